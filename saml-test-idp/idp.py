"""A test SAML identity provider for Roster's tests: it signs with signxml (lxml and
`cryptography`), an implementation independent of the one Roster verifies with, using keys made at
test time. It also makes every forged or broken response the tests must see refused.

    python3 idp.py keygen DIR [--ecdsa]        # DIR/key.pem, DIR/cert.pem
    python3 idp.py response --key K --cert C --issuer I --audience A --acs URL --name-id N \
        [--in-response-to ID] [--attack NAME] [--sign assertion|response|both|none] \
        [--algorithm rsa-sha256|rsa-sha1|ecdsa-sha256] [--digest sha256|sha1] \
        [--not-before-minutes M] [--not-on-or-after-minutes M] [--email-attribute E]

`response` prints the base64 SAMLResponse (what the browser POSTs to the ACS) on standard output.
Attacks (`--attack`): xsw1 .. xsw8 (Somorovsky et al., "On Breaking SAML", 2012, in SAMLRaider's
numbering), nameid-comment (a comment inside NameID), dtd (an entity declaration),
two-assertions. A response signed by another key (its certificate in KeyInfo) is a response made
with that key's `--key` and `--cert`.
"""

import argparse
import base64
import copy
import datetime as dt
import pathlib
import sys
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
PLACEHOLDER = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>'
EVIL = "admin@evil.example"


def q(prefix, local):
    return "{%s}%s" % (NS[prefix], local)


def keygen(directory, ecdsa=False, cn="roster-test-idp"):
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if ecdsa
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class Sha1Signer(XMLSigner):
    """signxml refuses SHA-1 by default; the tests need SHA-1 signatures to see them refused."""

    def check_deprecated_methods(self):
        pass


SIGNATURE_METHODS = {
    "rsa-sha256": SignatureMethod.RSA_SHA256,
    "rsa-sha1": SignatureMethod.RSA_SHA1,
    "ecdsa-sha256": SignatureMethod.ECDSA_SHA256,
}
DIGESTS = {"sha256": DigestAlgorithm.SHA256, "sha1": DigestAlgorithm.SHA1}


def sign(root, key, cert, ref_id, algorithm, digest):
    sha1 = algorithm == "rsa-sha1" or digest == "sha1"
    signer = (Sha1Signer if sha1 else XMLSigner)(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SIGNATURE_METHODS[algorithm],
        digest_algorithm=DIGESTS[digest],
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(root, key=key, cert=cert, reference_uri="#" + ref_id, id_attribute="ID")


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def response_xml(a, rid, aid):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    not_before = now + dt.timedelta(minutes=a.not_before_minutes)
    not_after = now + dt.timedelta(minutes=a.not_on_or_after_minutes)
    in_response_to = f' InResponseTo="{a.in_response_to}"' if a.in_response_to else ""
    attribute = (
        '<saml:AttributeStatement><saml:Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/'
        f'identity/claims/emailaddress"><saml:AttributeValue>{a.email_attribute}'
        "</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"
        if a.email_attribute
        else ""
    )
    placeholder = PLACEHOLDER if a.sign in ("assertion", "both") else ""
    # No whitespace between elements: a mutation moves elements without touching digests.
    return (
        f'<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="{rid}" '
        f'Version="2.0" IssueInstant="{stamp(now)}" Destination="{a.destination or a.acs}"'
        f"{in_response_to}><saml:Issuer>{a.issuer}</saml:Issuer>"
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        f'</samlp:Status><saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{stamp(now)}">'
        f"<saml:Issuer>{a.assertion_issuer or a.issuer}</saml:Issuer>{placeholder}<saml:Subject>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{a.name_id}</saml:NameID>"
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{stamp(not_after)}" '
        f'Recipient="{a.recipient or a.acs}"{in_response_to}/></saml:SubjectConfirmation>'
        f'</saml:Subject><saml:Conditions NotBefore="{stamp(not_before)}" '
        f'NotOnOrAfter="{stamp(not_after)}"><saml:AudienceRestriction>'
        f"<saml:Audience>{a.audience}</saml:Audience></saml:AudienceRestriction>"
        f'</saml:Conditions><saml:AuthnStatement AuthnInstant="{stamp(now)}" '
        f'SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>'
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"{attribute}</saml:Assertion></samlp:Response>"
    )


def signature_of(el):
    return el.find("ds:Signature", NS)


def assertion_of(root):
    return root.find("saml:Assertion", NS)


def make_evil(el):
    for n in el.iter(q("saml", "NameID")):
        n.text = EVIL


def detach(el):
    parent, prev = el.getparent(), el.getprevious()
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def unsigned_copy(el):
    c = copy.deepcopy(el)
    s = signature_of(c)
    if s is not None:
        detach(s)
    return c


# The eight wrapping attacks. XSW1 and XSW2 start from a signed Response, the others from a
# signed Assertion; each leaves a correctly signed element somewhere and an evil one where a
# careless verifier reads.
def xsw1(r):
    o = unsigned_copy(r)
    make_evil(r)
    r.set("ID", "_evil_response")
    signature_of(r).append(o)


def xsw2(r):
    o = unsigned_copy(r)
    make_evil(r)
    r.set("ID", "_evil_response")
    signature_of(r).addprevious(o)


def xsw3(r):
    a = assertion_of(r)
    e = unsigned_copy(a)
    make_evil(e)
    e.set("ID", "_evil_assertion")
    a.addprevious(e)


def xsw4(r):
    a = assertion_of(r)
    e = unsigned_copy(a)
    make_evil(e)
    e.set("ID", "_evil_assertion")
    r.append(e)
    e.append(a)


def xsw5(r):
    a = assertion_of(r)
    o = unsigned_copy(a)
    make_evil(a)
    a.set("ID", "_evil_assertion")
    r.append(o)


def xsw6(r):
    a = assertion_of(r)
    o = unsigned_copy(a)
    make_evil(a)
    a.set("ID", "_evil_assertion")
    signature_of(a).append(o)


def xsw7(r):
    a = assertion_of(r)
    x = etree.Element(q("samlp", "Extensions"))
    a.addprevious(x)
    e = unsigned_copy(a)
    make_evil(e)
    x.append(e)


def xsw8(r):
    a = assertion_of(r)
    o = unsigned_copy(a)
    make_evil(a)
    etree.SubElement(signature_of(a), q("ds", "Object")).append(o)


WRAPPING = {f"xsw{i}": f for i, f in enumerate([xsw1, xsw2, xsw3, xsw4, xsw5, xsw6, xsw7, xsw8], 1)}


def response(a):
    key = pathlib.Path(a.key).read_bytes()
    cert = pathlib.Path(a.cert).read_text()
    rid, aid = "_r" + uuid.uuid4().hex, "_a" + uuid.uuid4().hex
    if a.attack in ("xsw1", "xsw2"):
        a.sign = "response"
    elif a.attack and a.attack.startswith("xsw"):
        a.sign = "assertion"
    root = etree.fromstring(response_xml(a, rid, aid).encode())
    if a.sign in ("assertion", "both"):
        root = sign(root, key, cert, aid, a.algorithm, a.digest)
    if a.sign in ("response", "both"):
        root.find("saml:Issuer", NS).addnext(etree.fromstring(PLACEHOLDER))
        root = sign(root, key, cert, rid, a.algorithm, a.digest)
    if a.attack in WRAPPING:
        WRAPPING[a.attack](root)
    elif a.attack == "two-assertions":
        extra = unsigned_copy(assertion_of(root))
        make_evil(extra)
        extra.set("ID", "_second")
        root.append(extra)
    out = etree.tostring(root).decode()
    if a.attack == "nameid-comment":
        # A comment splits the NameID's text: a parser that keeps only the first text node
        # reads a shorter name. The signature covers the comment (exclusive c14n drops it, so
        # the digest still fits).
        at = a.name_id.index("@")
        cut = a.name_id[:at] + "<!-- -->" + a.name_id[at:]
        out = out.replace(f">{a.name_id}</saml:NameID>", f">{cut}</saml:NameID>", 1)
    elif a.attack == "dtd":
        out = '<!DOCTYPE r [<!ENTITY e "x">]>' + out
    return base64.b64encode(out.encode()).decode()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("directory")
    k.add_argument("--ecdsa", action="store_true")
    r = sub.add_parser("response")
    r.add_argument("--key", required=True)
    r.add_argument("--cert", required=True)
    r.add_argument("--issuer", required=True)
    r.add_argument("--assertion-issuer")
    r.add_argument("--audience", required=True)
    r.add_argument("--acs", required=True)
    r.add_argument("--destination")
    r.add_argument("--recipient")
    r.add_argument("--name-id", required=True)
    r.add_argument("--email-attribute")
    r.add_argument("--in-response-to")
    r.add_argument("--sign", default="assertion", choices=["assertion", "response", "both", "none"])
    r.add_argument("--algorithm", default="rsa-sha256", choices=sorted(SIGNATURE_METHODS))
    r.add_argument("--digest", default="sha256", choices=sorted(DIGESTS))
    r.add_argument("--not-before-minutes", type=int, default=-1)
    r.add_argument("--not-on-or-after-minutes", type=int, default=5)
    r.add_argument(
        "--attack",
        choices=sorted(WRAPPING) + ["nameid-comment", "dtd", "two-assertions"],
    )
    a = p.parse_args()
    if a.cmd == "keygen":
        keygen(a.directory, a.ecdsa)
    else:
        sys.stdout.write(response(a))


if __name__ == "__main__":
    main()
