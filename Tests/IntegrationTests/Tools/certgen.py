#!/usr/bin/python3
"""Certificates for Ferry's mTLS tests, made the way an outsider would make them.

  leaf  --ca-dir DIR --uri URI --out PREFIX [--expired]   signed by the mesh CA
  rogue --uri URI --out PREFIX                             from a CA of its own
  csr   --uri URI --out PREFIX                             a key and a CSR
Writes PREFIX.crt / PREFIX.key (PEM) or PREFIX.csr."""
import argparse
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def write_key(key, path):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def leaf(issuer_cert, issuer_key, uri, not_before, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "test")]))
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    return cert, key


def self_signed_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rogue CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now() - datetime.timedelta(days=1)).not_valid_after(now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["leaf", "rogue", "csr"])
    parser.add_argument("--ca-dir")
    parser.add_argument("--uri", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--expired", action="store_true")
    args = parser.parse_args()

    if args.kind == "csr":
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(args.uri)]), critical=False)
               .sign(key, hashes.SHA256()))
        with open(args.out + ".csr", "wb") as f:
            f.write(csr.public_bytes(serialization.Encoding.PEM))
        write_key(key, args.out + ".key")
        return

    if args.kind == "leaf":
        with open(f"{args.ca_dir}/ca.crt", "rb") as f:
            issuer_cert = x509.load_pem_x509_certificate(f.read())
        with open(f"{args.ca_dir}/ca.key", "rb") as f:
            issuer_key = serialization.load_pem_private_key(f.read(), password=None)
    else:
        issuer_cert, issuer_key = self_signed_ca()

    if args.expired:
        window = (now() - datetime.timedelta(days=3), now() - datetime.timedelta(days=1))
    else:
        window = (now() - datetime.timedelta(minutes=5), now() + datetime.timedelta(hours=1))
    cert, key = leaf(issuer_cert, issuer_key, args.uri, *window)
    with open(args.out + ".crt", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(issuer_cert.public_bytes(serialization.Encoding.PEM))
    write_key(key, args.out + ".key")


if __name__ == "__main__":
    main()
