#!/usr/bin/env bash
# Makes the certificates of the TLS tests in DIR, at test time, so no
# private key is ever checked in:
#   ca.pem                 the test CA (trusted through ca_file)
#   server.pem server.key  CN localhost, SAN DNS:localhost IP:127.0.0.1,
#                          signed by the CA, valid now
#   expired.pem expired.key  the same names, signed by the CA, valid only
#                          on 1 January 2020
#   rogue.pem rogue.key    the same names, signed by another CA
#   server.pfx             server.pem, its key and the CA as PKCS#12,
#                          password "ior-test"
# Usage: tests/tls/make_certs.sh DIR
set -euo pipefail

dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
rm -f ./*.pem ./*.key ./*.csr ./*.srl ./*.pfx index.txt* serial* ./*.cnf ./*.ext

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

cat >leaf.ext <<'X'
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
X

# Two CAs: ours, and one the client does not trust.
for ca in ca other-ca; do
    openssl req -x509 "${ec[@]}" -keyout "$ca.key" -out "$ca.pem" -days 3 \
        -subj "/CN=ior test $ca" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign 2>/dev/null
done

leaf() { # name signing-ca
    openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" \
        -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
        -CAcreateserial -days 3 -extfile leaf.ext -out "$1.pem" 2>/dev/null
}
leaf server ca
leaf rogue other-ca

# An expired one needs explicit dates: `openssl ca` takes them.
openssl req "${ec[@]}" -keyout expired.key -out expired.csr \
    -subj "/CN=localhost" 2>/dev/null
: >index.txt
echo 1000 >serial
cat >ca.cnf <<'X'
[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
X
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key \
    -in expired.csr -out expired.pem -notext -extfile leaf.ext \
    -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem \
    -passout pass:ior-test -out server.pfx 2>/dev/null
echo "certificates in $dir"
