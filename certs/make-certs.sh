#!/usr/bin/env bash
# make-certs.sh — development certificates for Pygmy's mutual TLS (see certs/README.md).
#
# Creates (or reuses) a development CA and, for every node, a certificate + private key whose
# subjectAltName carries the node's host names / IP addresses and its role(s) as URIs of the
# form pygmy://role/<role>. Client certificates for the roles `client` and `admin` are always made.
#
# Usage:
#   certs/make-certs.sh [options] [name:role[+role]:host-or-ip[,host-or-ip...] ...]
#
# Options:
#   -o, --out DIR          output directory (default: certs/out next to this script; git-ignored)
#   -t, --topology FILE    read node specs from FILE: one spec per line, '#' starts a comment
#   -d, --days N           validity of node certificates in days (default 825)
#       --expired SPEC     also make an already expired certificate for SPEC (signed by the dev CA)
#       --untrusted SPEC   also make a certificate for SPEC signed by a second, untrusted CA
#       --no-clients       do not make the default `client` and `admin` certificates
#   -h, --help             show this help
#
# A spec is name:roles:hosts. roles is one role or several joined by '+' (client, admin, frontend,
# catalog, order); hosts is a comma-separated list of DNS names and IP addresses, and may be empty
# (client certificates). IPv6 addresses are fine: everything after the second ':' is the host list.
#
# Output, per certificate NAME: NAME.crt (PEM) and NAME.key (PEM, mode 0600). Also ca.crt / ca.key
# (reused when already present, so new nodes join the existing trust) and, with --untrusted,
# untrusted-ca.crt / untrusted-ca.key. Never commit the keys; /certs/out/ and *.key are git-ignored.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="$script_dir/out"
days=825
make_clients=1
specs=()
expired_specs=()
untrusted_specs=()
known_roles=" client admin frontend catalog order "

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "make-certs: $*" >&2; exit 1; }

read_topology() {
    local file="$1" line
    [[ -r "$file" ]] || die "cannot read topology file '$file'"
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%%#*}"
        line="$(echo "$line" | tr -d '[:space:]')"
        [[ -n "$line" ]] && specs+=("$line")
    done <"$file"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        -o|--out) out_dir="${2:?missing directory}"; shift 2 ;;
        -t|--topology) read_topology "${2:?missing file}"; shift 2 ;;
        -d|--days) days="${2:?missing days}"; shift 2 ;;
        --expired) expired_specs+=("${2:?missing spec}"); shift 2 ;;
        --untrusted) untrusted_specs+=("${2:?missing spec}"); shift 2 ;;
        --no-clients) make_clients=0; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) specs+=("$1"); shift ;;
    esac
done

command -v openssl >/dev/null || die "the openssl command line tool is required"
mkdir -p "$out_dir"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# make_ca NAME COMMON_NAME: a self-signed CA certificate NAME.crt with key NAME.key (reused if present).
make_ca() {
    local name="$1" cn="$2"
    if [[ -f "$out_dir/$name.crt" && -f "$out_dir/$name.key" ]]; then return; fi
    new_key "$out_dir/$name.key"
    openssl req -x509 -new -sha256 -days 3650 -key "$out_dir/$name.key" \
        -subj "/O=Pygmy Development/CN=$cn" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$out_dir/$name.crt"
    chmod 644 "$out_dir/$name.crt"
    echo "made CA $out_dir/$name.crt"
}

# write_extensions SPEC FILE: the X.509v3 extensions (SANs with hosts and role URIs) for SPEC.
write_extensions() {
    local spec="$1" file="$2" name roles hosts role host san="" eku="serverAuth,clientAuth"
    [[ "$spec" == *:*:* ]] || die "bad spec '$spec' (want name:role:hosts)"
    name="${spec%%:*}"; roles="${spec#*:}"; hosts="${roles#*:}"; roles="${roles%%:*}"
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad name '$name' in spec '$spec'"
    [[ -n "$roles" ]] || die "no role in spec '$spec'"
    IFS=',' read -r -a host_list <<<"$hosts"
    for host in "${host_list[@]}"; do
        [[ -z "$host" ]] && continue
        if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+="IP:$host,"; else san+="DNS:$host,"; fi
    done
    IFS='+' read -r -a role_list <<<"$roles"
    for role in "${role_list[@]}"; do
        [[ "$known_roles" == *" $role "* ]] || die "unknown role '$role' in spec '$spec' (known:$known_roles)"
        san+="URI:pygmy://role/$role,"
    done
    # Certificates without a host (end-user and admin clients) can only authenticate as TLS clients.
    [[ -z "${hosts//,/}" ]] && eku="clientAuth"
    cat >"$file" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $eku
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = ${san%,}
EOF
    echo "$name" >"$file.name"
    echo "${roles//+/,}" >"$file.roles"
}

# make_leaf SPEC CA [expired]: NAME.crt + NAME.key for SPEC signed by CA.crt/CA.key.
make_leaf() {
    local spec="$1" ca="$2" expired="${3:-}" name roles ext="$work/ext.cnf"
    write_extensions "$spec" "$ext"
    name="$(cat "$ext.name")"; roles="$(cat "$ext.roles")"
    new_key "$out_dir/$name.key"
    openssl req -new -sha256 -key "$out_dir/$name.key" -subj "/O=Pygmy/OU=$roles/CN=$name" -out "$work/$name.csr"
    if [[ -z "$expired" ]]; then
        openssl x509 -req -sha256 -in "$work/$name.csr" -CA "$out_dir/$ca.crt" -CAkey "$out_dir/$ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$ext" \
            -out "$out_dir/$name.crt" 2>/dev/null
    else
        # `openssl x509` cannot back-date certificates; `openssl ca` can.
        mkdir -p "$work/ca/new"; : >"$work/ca/index.txt"; openssl rand -hex 16 >"$work/ca/serial"
        cat >"$work/ca.cnf" <<EOF
[ ca ]
default_ca = dev
[ dev ]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
EOF
        openssl ca -batch -notext -config "$work/ca.cnf" -cert "$out_dir/$ca.crt" -keyfile "$out_dir/$ca.key" \
            -startdate 20200101000000Z -enddate 20200201000000Z -extfile "$ext" \
            -in "$work/$name.csr" -out "$out_dir/$name.crt" 2>/dev/null
    fi
    chmod 644 "$out_dir/$name.crt"
    echo "made $out_dir/$name.crt (roles: $roles${expired:+, expired}, issuer: $ca)"
}

if [[ ${#specs[@]} -eq 0 && ${#expired_specs[@]} -eq 0 && ${#untrusted_specs[@]} -eq 0 ]]; then
    # A small local topology: one node of each server role on the loopback interface.
    specs=(
        "frontend-1:frontend:localhost,127.0.0.1"
        "catalog-1:catalog:localhost,127.0.0.1"
        "catalog-2:catalog:localhost,127.0.0.1"
        "order-1:order:localhost,127.0.0.1"
    )
fi
if [[ $make_clients -eq 1 ]]; then
    specs+=("client:client:" "admin:admin:")
fi

make_ca ca "Pygmy Development CA"
for spec in "${specs[@]}"; do make_leaf "$spec" ca; done
for spec in ${expired_specs[@]+"${expired_specs[@]}"}; do make_leaf "$spec" ca expired; done
if [[ ${#untrusted_specs[@]} -gt 0 ]]; then
    make_ca untrusted-ca "Untrusted Development CA"
    for spec in "${untrusted_specs[@]}"; do make_leaf "$spec" untrusted-ca; done
fi
