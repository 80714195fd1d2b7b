// Evidence for kafka/CLIENT_DESIGN.md, not product code (not built by Bazel).
// librdkafka 2.0.2 through a socketpair relay
// (socket_cb/connect_cb/closesocket_cb) whose upstream is plain TCP to the
// librdkafka mock cluster; the relay switches upstream every SWITCH_MS between
// requests (strict drain: hold new requests until every request expecting a
// response has its response). Holds librdkafka in CONNECT by filling its send
// buffer (see section 1.2). Usage:
//   gcc -O1 relay_probe.c -lrdkafka -lpthread -o relay_probe
//   ./relay_probe 20000 0 100            # producer: N, FAIL(1=upstream fails),
//   SWITCH_MS CONSUME=1 ./relay_probe 20000 0 100  # then a group consumer
//   reads them back
// Experiment: librdkafka 2.0.2 through a socketpair relay that switches its
// upstream TCP connection between requests. Upstream = librdkafka mock cluster.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int peer_of[4096];
static atomic_int switches, relays, closes, warnlogs, thread_ok, thread_bad;
static atomic_long delivered, failed;
static int mode_fail = 0;  // 1: upstream "fails" -> close with unread filler
static int switch_ms = 100;
static __thread void *tls_ctx;
static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct relay {
  int lib_fd, fd;
  struct sockaddr_storage addr;
  socklen_t alen;
  size_t filler;
};

static int tcp_connect(struct relay *r) {
  int s = socket(r->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(s, (struct sockaddr *)&r->addr, r->alen)) {
    close(s);
    return -1;
  }
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}
static int rd32(const unsigned char *p) {
  return (int)((unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
}
static int rd16(const unsigned char *p) { return (short)(p[0] << 8 | p[1]); }
static int write_all(int fd, const void *b, size_t n) {
  const char *p = b;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        struct pollfd q = {fd, POLLOUT, 0};
        poll(&q, 1, 100);
        continue;
      }
      return -1;
    }
    p += w;
    n -= w;
  }
  return 0;
}

// Does this request expect a response? (only Produce with acks=0 does not)
static int expects_response(const unsigned char *f, size_t len) {
  int key = rd16(f + 4), ver = rd16(f + 6);
  if (key != 0) return 1;
  size_t o = 12;
  int cl = rd16(f + o);
  o += 2 + (cl > 0 ? cl : 0);  // client_id (header v1)
  if (ver >= 3) {
    int tl = rd16(f + o);
    o += 2 + (tl > 0 ? tl : 0);
  }  // transactional_id
  (void)len;
  return rd16(f + o) != 0;  // acks
}

static void *relay_main(void *arg) {
  struct relay *r = arg;
  atomic_fetch_add(&relays, 1);
  int up = mode_fail ? -1 : tcp_connect(r);
  if (up < 0) {
    close(r->fd);
    free(r);
    return NULL;
  }  // unread filler -> ECONNRESET at lib side
  int big = 1 << 20;
  setsockopt(r->lib_fd, SOL_SOCKET, SO_SNDBUF, &big,
             sizeof big);  // restore before POLLOUT
  char junk[65536];
  size_t left = r->filler;
  while (left) {
    ssize_t n = read(r->fd, junk, left < sizeof junk ? left : sizeof junk);
    if (n <= 0) break;
    left -= n;
  }
  unsigned char *in = malloc(1 << 24), *out = malloc(1 << 24);
  size_t inl = 0, outl = 0;
  int pending = 0, newup = -1;
  long next_switch = now_ms() + switch_ms;
  fcntl(r->fd, F_SETFL, O_NONBLOCK);
  for (;;) {
    if (newup < 0 && now_ms() >= next_switch)
      newup = tcp_connect(r);  // pre-connect, then drain
    // forward complete request frames unless draining
    while (inl >= 4) {
      size_t fl = 4 + (size_t)rd32(in);
      if (inl < fl) break;
      if (newup >= 0) {
        if (pending > 0) break;
        close(up);
        up = newup;
        newup = -1;
        atomic_fetch_add(&switches, 1);
        next_switch = now_ms() + switch_ms;
      }
      if (write_all(up, in, fl)) goto done;
      if (expects_response(in, fl)) pending++;
      memmove(in, in + fl, inl - fl);
      inl -= fl;
    }
    if (newup >= 0 && pending == 0 && inl == 0) {
      close(up);
      up = newup;
      newup = -1;
      atomic_fetch_add(&switches, 1);
      next_switch = now_ms() + switch_ms;
    }
    struct pollfd p[2] = {{r->fd, (inl < (1u << 23)) ? POLLIN : 0, 0},
                          {up, POLLIN, 0}};
    if (poll(p, 2, 10) < 0) break;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(r->fd, in + inl, (1 << 24) - inl);
      if (n == 0 || (n < 0 && errno != EAGAIN)) goto done;
      if (n > 0) inl += n;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(up, out + outl, (1 << 24) - outl);
      if (n <= 0) goto done;
      outl += n;
      while (outl >= 4) {
        size_t fl = 4 + (size_t)rd32(out);
        if (outl < fl) break;
        if (write_all(r->fd, out, fl)) goto done;
        pending--;
        memmove(out, out + fl, outl - fl);
        outl -= fl;
      }
    }
  }
done:
  if (up >= 0) close(up);
  if (newup >= 0) close(newup);
  close(r->fd);
  free(in);
  free(out);
  free(r);
  return NULL;
}

static int my_socket_cb(int domain, int type, int protocol, void *opaque) {
  (void)domain;
  (void)type;
  (void)protocol;
  (void)opaque;
  if (tls_ctx)
    atomic_fetch_add(&thread_ok, 1);
  else
    atomic_fetch_add(&thread_bad, 1);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return -1;
  peer_of[sv[0]] = sv[1];
  return sv[0];
}
static int my_connect_cb(int fd, const struct sockaddr *addr, int addrlen,
                         const char *id, void *opaque) {
  (void)opaque;
  struct relay *r = calloc(1, sizeof *r);
  r->lib_fd = fd;
  r->fd = peer_of[fd];
  memcpy(&r->addr, addr, addrlen);
  r->alen = addrlen;
  int small = 1;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  char z[4096] = {0};
  for (;;) {
    ssize_t n = send(fd, z, sizeof z, MSG_DONTWAIT);
    if (n <= 0) break;
    r->filler += n;
  }
  struct pollfd q = {fd, POLLOUT, 0};
  int pr = poll(&q, 1, 0);
  fprintf(stderr, "[connect_cb] id=%s fd=%d filler=%zu pollout_now=%d\n", id,
          fd, r->filler, pr > 0 && (q.revents & POLLOUT));
  pthread_t t;
  pthread_create(&t, NULL, relay_main, r);
  pthread_detach(t);
  return 0;
}
static atomic_int rebalances;
static void rb_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                  rd_kafka_topic_partition_list_t *p, void *o) {
  (void)o;
  atomic_fetch_add(&rebalances, 1);
  fprintf(stderr, "[rebalance] %s\n", rd_kafka_err2name(e));
  if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    rd_kafka_assign(rk, p);
  else
    rd_kafka_assign(rk, NULL);
}
static int my_closesocket_cb(int fd, void *opaque) {
  (void)opaque;
  atomic_fetch_add(&closes, 1);
  return close(fd);
}
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  (void)rk;
  if (level <= 6) fprintf(stderr, "[log %d %s] %s\n", level, fac, buf);
  if (level <= 4) atomic_fetch_add(&warnlogs, 1);
}
static void err_cb(rd_kafka_t *rk, int err, const char *reason, void *o) {
  (void)rk;
  (void)o;
  fprintf(stderr, "[error_cb] %s: %s\n", rd_kafka_err2name(err), reason);
}
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *o) {
  (void)rk;
  (void)o;
  if (m->err)
    atomic_fetch_add(&failed, 1);
  else
    atomic_fetch_add(&delivered, 1);
}
static rd_kafka_resp_err_t on_thread_start(rd_kafka_t *rk,
                                           rd_kafka_thread_type_t tt,
                                           const char *name, void *ic) {
  (void)rk;
  (void)name;
  if (tt == RD_KAFKA_THREAD_BROKER) tls_ctx = ic;
  return 0;
}
static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                  void *ic, char *e, size_t es) {
  (void)conf;
  (void)e;
  (void)es;
  return rd_kafka_interceptor_add_on_thread_start(rk, "mayfly", on_thread_start,
                                                  ic);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  mode_fail = argc > 2 ? atoi(argv[2]) : 0;
  if (argc > 3) switch_ms = atoi(argv[3]);
  char err[512];
  rd_kafka_conf_t *mc = rd_kafka_conf_new();
  rd_kafka_conf_set(mc, "log_level", "3", err, sizeof err);
  rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof err);
  rd_kafka_mock_cluster_t *mcl = rd_kafka_mock_cluster_new(mrk, 1);
  rd_kafka_mock_topic_create(mcl, "t", 3, 1);
  const char *bs = rd_kafka_mock_cluster_bootstraps(mcl);
  rd_kafka_conf_t *c = rd_kafka_conf_new();
#define SET(k, v)                                    \
  if (rd_kafka_conf_set(c, k, v, err, sizeof err)) { \
    fprintf(stderr, "%s\n", err);                    \
    return 1;                                        \
  }
  SET("bootstrap.servers", bs);
  SET("enable.idempotence", "true");
  SET("linger.ms", "5");
  SET("socket.nagle.disable", "true");
  SET("socket.keepalive.enable", "true");
  if (getenv("DBG")) SET("debug", getenv("DBG"));
  rd_kafka_conf_set_socket_cb(c, my_socket_cb);
  rd_kafka_conf_set_connect_cb(c, my_connect_cb);
  rd_kafka_conf_set_closesocket_cb(c, my_closesocket_cb);
  rd_kafka_conf_set_log_cb(c, log_cb);
  rd_kafka_conf_set_error_cb(c, err_cb);
  rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
  rd_kafka_conf_interceptor_add_on_new(c, "mayfly", on_new, (void *)0x1);
  char sp[64];
  size_t spl = sizeof sp;
  rd_kafka_conf_get(c, "socket_cb", sp, &spl);
  fprintf(stderr, "conf_get socket_cb=%s (fn %p)\n", sp, (void *)my_socket_cb);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  long t0 = now_ms();
  for (int i = 0; i < n; i++) {
    char v[32];
    int l = snprintf(v, sizeof v, "%d", i);
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE(v, l),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 10);
    if (i % 100 == 0) {
      rd_kafka_poll(rk, 0);
      usleep(mode_fail ? 0 : 15000);
    }
    if (mode_fail && now_ms() - t0 > 3000) break;
  }
  rd_kafka_flush(rk, mode_fail ? 1000 : 30000);
  long hw = 0;
  for (int p = 0; p < 3 && !mode_fail; p++) {
    int64_t lo, hi;
    if (!rd_kafka_query_watermark_offsets(rk, "t", p, &lo, &hi, 5000)) hw += hi;
  }
  fprintf(stderr,
          "RESULT n=%d delivered=%ld failed=%ld high_watermark_sum=%ld "
          "relays=%d switches=%d closes=%d warn_or_worse_logs=%d "
          "socket_cb_thread_tls ok=%d bad=%d elapsed=%ldms\n",
          n, (long)delivered, (long)failed, hw, (int)relays, (int)switches,
          (int)closes, (int)warnlogs, (int)thread_ok, (int)thread_bad,
          now_ms() - t0);

  if (getenv("CONSUME")) {
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
#define CSET(k, v)                                    \
  if (rd_kafka_conf_set(cc, k, v, err, sizeof err)) { \
    fprintf(stderr, "%s\n", err);                     \
    return 1;                                         \
  }
    CSET("bootstrap.servers", bs);
    CSET("group.id", "g");
    CSET("auto.offset.reset", "earliest");
    CSET("fetch.wait.max.ms", "100");
    CSET("max.partition.fetch.bytes", "2000");
    rd_kafka_conf_set_socket_cb(cc, my_socket_cb);
    rd_kafka_conf_set_connect_cb(cc, my_connect_cb);
    rd_kafka_conf_set_closesocket_cb(cc, my_closesocket_cb);
    rd_kafka_conf_set_log_cb(cc, log_cb);
    rd_kafka_conf_set_error_cb(cc, err_cb);
    rd_kafka_conf_set_rebalance_cb(cc, rb_cb);
    rd_kafka_t *ck = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    rd_kafka_poll_set_consumer(ck);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, "t", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(ck, tl);
    static char seen[1000000];
    long got = 0, dup = 0;
    int s0 = switches;
    long t1 = now_ms();
    while (got < n && now_ms() - t1 < 60000) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(ck, 100);
      if (!m) continue;
      if (!m->err) {
        int v = atoi((char *)m->payload);
        if (seen[v])
          dup++;
        else {
          seen[v] = 1;
          got++;
        }
      }
      rd_kafka_message_destroy(m);
    }
    fprintf(stderr,
            "CONSUME got=%ld dup=%ld rebalance_cbs=%d switches_during=%d "
            "relays=%d elapsed=%ldms\n",
            got, dup, (int)rebalances, (int)switches - s0, (int)relays,
            now_ms() - t1);
    rd_kafka_consumer_close(ck);
    rd_kafka_destroy(ck);
  }
  rd_kafka_destroy(rk);
  rd_kafka_mock_cluster_destroy(mcl);
  rd_kafka_destroy(mrk);
  return 0;
}
