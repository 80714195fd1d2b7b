// Evidence for kafka/CLIENT_DESIGN.md, not product code (not built by Bazel).
// Does an SSL_new defined in the executable interpose the SSL_new@OPENSSL_3.0.0
// that Debian's librdkafka.so.1 imports? Connects over "ssl" to the (plaintext)
// mock cluster, so the handshakes fail; only the SSL_new count matters.
//   gcc interpose_probe.c -lrdkafka -lssl -lcrypto -ldl -o interpose_probe
#define _GNU_SOURCE
#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static int calls;
#ifndef NO_OVERRIDE
SSL *SSL_new(SSL_CTX *ctx) {
  static SSL *(*real)(SSL_CTX *);
  if (!real) real = (SSL * (*)(SSL_CTX *)) dlsym(RTLD_NEXT, "SSL_new");
  calls++;
  return real(ctx);
}
#endif
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  (void)rk;
  if (level <= 6) fprintf(stderr, "[log %d %s] %s\n", level, fac, buf);
}
int main(void) {
  char err[512];
  void *def = dlsym(RTLD_DEFAULT, "SSL_new");
  Dl_info di;
  dladdr(def, &di);
  fprintf(stderr, "RTLD_DEFAULT SSL_new resolves into %s\n", di.dli_fname);
  rd_kafka_conf_t *mc = rd_kafka_conf_new();
  rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof err);
  rd_kafka_mock_cluster_t *mcl = rd_kafka_mock_cluster_new(mrk, 1);
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers",
                    rd_kafka_mock_cluster_bootstraps(mcl), err, sizeof err);
  rd_kafka_conf_set(c, "security.protocol", "ssl", err, sizeof err);
  rd_kafka_conf_set(c, "ssl.endpoint.identification.algorithm", "none", err,
                    sizeof err);
  rd_kafka_conf_set_log_cb(c, log_cb);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  sleep(1);
  fprintf(stderr, "interposed SSL_new calls from librdkafka: %d\n", calls);
  rd_kafka_destroy(rk);
  rd_kafka_mock_cluster_destroy(mcl);
  rd_kafka_destroy(mrk);
  return 0;
}
