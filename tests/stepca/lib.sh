# step-ca (Smallstep's CA) on loopback for shell tests, configured without
# the `step` CLI: openssl makes the PKI, stepca_jwk the provisioner's JWK.
# The layout is the one docs/upstream.md asks for: an offline root, and
# step-ca's signing intermediate with pathlen:1 (step's default 0 would
# forbid the replica's intermediate CA below it).
#
#   stepca_pki DIR JWK           DIR/root.pem (+ root_key.pem), the JWK
#                                provisioner's key DIR/provisioner.key and
#                                DIR/provisioner.jwk (JWK: the stepca_jwk
#                                binary); openssl's output in DIR/openssl.log
#   stepca_start DIR NAME PATHLEN
#                                a step-ca (binary $step_ca) whose signing
#                                intermediate under DIR's root has pathlen
#                                PATHLEN, its provisioner "mayfly" issuing CA
#                                certificates; on 127.0.0.1:${step_port[NAME]},
#                                log DIR/NAME.log; returns once it serves TLS
#   ossl ARGS...                 openssl, its output in $stepca_openssl_log
#
# Needs spawn (tests/lib/procs.sh), openssl and python3.
declare -A step_port=()
stepca_openssl_log=/dev/null

ossl() { openssl "$@" >>"$stepca_openssl_log" 2>&1; }

stepca_pki() {
  local pki=$1 jwk=$2
  mkdir -p "$pki"
  stepca_openssl_log=$pki/openssl.log
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$pki/root_key.pem" -out "$pki/root.pem" -subj "/O=Test/CN=step root" \
    -days 2 -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" || return
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$pki/provisioner.key" || return
  chmod 600 "$pki/provisioner.key" "$pki/root_key.pem"
  "$jwk" "$pki/provisioner.key" >"$pki/provisioner.jwk"
}

stepca_start() {
  local pki=$1 name=$2 dir=$1/$2 deadline
  mkdir -p "$dir"
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/int_key.pem" -out "$dir/int.csr" \
    -subj "/O=Test/CN=step intermediate $name" || return
  printf 'basicConstraints=critical,CA:true,pathlen:%s\nkeyUsage=critical,keyCertSign,cRLSign\n' \
    "$3" >"$dir/int.ext"
  ossl x509 -req -in "$dir/int.csr" -CA "$pki/root.pem" -CAkey "$pki/root_key.pem" \
    -CAcreateserial -days 1 -extfile "$dir/int.ext" -out "$dir/int.pem" || return
  chmod 600 "$dir/int_key.pem"
  step_port[$name]=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 - "$pki" "$dir" "${step_port[$name]}" <<'PY'
import json, sys
pki, dir, port = sys.argv[1], sys.argv[2], sys.argv[3]
# The provisioner issues CA certificates: the template says cA and
# keyCertSign, pathlen 0 (the replica signs leaves only), and keeps the
# token's SANs (spiffe://TD) and subject.
template = ('{"subject": {{ toJson .Subject }}, "sans": {{ toJson .SANs }}, '
            '"keyUsage": ["certSign", "crlSign"], '
            '"basicConstraints": {"isCA": true, "maxPathLen": 0}}')
config = {
    "root": f"{pki}/root.pem",
    "crt": f"{dir}/int.pem",
    "key": f"{dir}/int_key.pem",
    "address": f"127.0.0.1:{port}",
    "dnsNames": ["127.0.0.1"],
    "logger": {"format": "text"},
    "authority": {
        "claims": {"minTLSCertDuration": "30s",
                   "defaultTLSCertDuration": "1h",
                   "maxTLSCertDuration": "24h"},
        "provisioners": [{
            "type": "JWK", "name": "mayfly",
            "key": json.load(open(f"{pki}/provisioner.jwk")),
            "options": {"x509": {"template": template}},
        }],
    },
}
json.dump(config, open(f"{dir}/ca.json", "w"), indent=1)
PY
  spawn "step-ca-$name" "$pki/$name.log" "$step_ca" "$dir/ca.json"
  deadline=$((SECONDS + 30))
  until openssl s_client -connect "127.0.0.1:${step_port[$name]}" \
    -CAfile "$pki/root.pem" -verify_return_error </dev/null >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "step-ca $name did not start:" >&2
      tail -20 "$pki/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
