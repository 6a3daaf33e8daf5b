// PKCS#10 certificate requests (built by the node, read by the devnet's ACME server) and X.509 certificates
// (issued by the devnet's test CA), over the DER helpers in der.ts.
import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { DerError, OID } from './der.js';

function sigAlg(key: KeyObject): { alg: Buffer; hash: 'sha256' } {
  if (key.asymmetricKeyType === 'ec') return { alg: der.seq(der.oid(OID.ecdsaSha256)), hash: 'sha256' };
  if (key.asymmetricKeyType === 'rsa') return { alg: der.seq(der.oid(OID.sha256WithRSA), der.nul()), hash: 'sha256' };
  throw new TypeError('only ECDSA and RSA keys sign here');
}

function spki(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'der', type: 'spki' });
}

/** A PKCS#10 request for `cn` with the SAN dNSNames `names` (cn included), signed by `key`. */
export function createCsr(key: KeyObject, cn: string, names: readonly string[] = [cn]): Buffer {
  const ext = der.seq(der.oid(OID.subjectAltName), der.octets(der.sanValue(names)));
  const attr = der.seq(der.oid(OID.extensionRequest), der.set(der.seq(ext)));
  const info = der.seq(der.int(0), der.name(cn), spki(key), der.tlv(0xa0, attr));
  const { alg, hash } = sigAlg(key);
  return der.seq(info, alg, der.bits(sign(hash, info, key)));
}

export interface ParsedCsr {
  commonName: string | null;
  dnsNames: string[];
  publicKey: KeyObject;
}

function sigOk(algNode: der.Node, tbs: Buffer, sig: Buffer, key: KeyObject): boolean {
  const alg = der.oidText(der.children(algNode)[0]!);
  if (alg === OID.ecdsaSha256) return key.asymmetricKeyType === 'ec' && verify('sha256', tbs, key, sig);
  if (alg === OID.sha256WithRSA) return key.asymmetricKeyType === 'rsa' && verify('sha256', tbs, key, sig);
  throw new DerError(`unsupported signature algorithm ${alg}`);
}

function bitString(n: der.Node): Buffer {
  der.expectTag(n, 0x03, 'BIT STRING');
  if (n.body[0] !== 0) throw new DerError('DER: BIT STRING with unused bits');
  return n.body.subarray(1);
}

function sanNames(extValue: Buffer): string[] {
  return der
    .children(der.read(extValue))
    .filter((g) => g.tag === 0x82)
    .map((g) => g.body.toString('ascii'));
}

/** Reads and verifies a PKCS#10 request; throws DerError (malformed) or Error (bad signature). */
export function parseCsr(buf: Buffer): ParsedCsr {
  const top = der.read(buf);
  if (top.end !== buf.length) throw new DerError('DER: trailing bytes after the request');
  const [info, alg, sig] = der.children(der.expectTag(top, 0x30, 'CertificationRequest'));
  if (!info || !alg || !sig) throw new DerError('DER: a request has three parts');
  const parts = der.children(der.expectTag(info, 0x30, 'CertificationRequestInfo'));
  const subject = der.expectTag(parts[1], 0x30, 'subject');
  const publicKey = createPublicKey({ key: der.expectTag(parts[2], 0x30, 'subjectPKInfo').raw, format: 'der', type: 'spki' });
  if (!sigOk(der.expectTag(alg, 0x30, 'signatureAlgorithm'), info.raw, bitString(sig), publicKey)) {
    throw new Error('the request signature does not verify');
  }
  let commonName: string | null = null;
  for (const rdn of der.children(subject)) {
    for (const atv of der.children(rdn)) {
      const [t, v] = der.children(atv);
      if (t && v && der.oidText(t) === OID.commonName) commonName = v.body.toString('utf8');
    }
  }
  const dnsNames: string[] = [];
  const attrs = parts[3];
  if (attrs && attrs.tag === 0xa0) {
    for (const a of der.children(attrs)) {
      const [t, vals] = der.children(a);
      if (!t || !vals || der.oidText(t) !== OID.extensionRequest) continue;
      for (const exts of der.children(vals)) {
        for (const ext of der.children(exts)) {
          const f = der.children(ext);
          if (der.oidText(f[0]!) === OID.subjectAltName) dnsNames.push(...sanNames(der.expectTag(f[f.length - 1], 0x04, 'extnValue').body));
        }
      }
    }
  }
  return { commonName, dnsNames, publicKey };
}

export interface IssueOptions {
  /** The subject's public key. */
  publicKey: KeyObject;
  subjectCN: string;
  dnsNames: readonly string[];
  ipAddresses?: readonly Uint8Array[];
  notBefore: Date;
  notAfter: Date;
  /** DER Name of the issuer (a self-signed CA passes its own subject). */
  issuer: Buffer;
  issuerKey: KeyObject;
  isCA?: boolean;
  serial?: Buffer;
}

/** An X.509 v3 certificate (DER). */
export function issueCertificate(o: IssueOptions): Buffer {
  const serial = o.serial ?? randomBytes(16);
  serial[0]! &= 0x7f;
  const { alg, hash } = sigAlg(o.issuerKey);
  const exts: Buffer[] = [];
  if (o.isCA) {
    exts.push(der.seq(der.oid(OID.basicConstraints), der.bool(true), der.octets(der.seq(der.bool(true)))));
    exts.push(der.seq(der.oid(OID.keyUsage), der.bool(true), der.octets(der.bits(Buffer.from([0x06]))))); // keyCertSign, cRLSign
  } else {
    exts.push(der.seq(der.oid(OID.basicConstraints), der.bool(true), der.octets(der.seq())));
    exts.push(der.seq(der.oid(OID.keyUsage), der.bool(true), der.octets(der.bits(Buffer.from([0x80]))))); // digitalSignature
    exts.push(der.seq(der.oid(OID.extKeyUsage), der.octets(der.seq(der.oid(OID.serverAuth)))));
  }
  if (o.dnsNames.length || o.ipAddresses?.length) {
    exts.push(der.seq(der.oid(OID.subjectAltName), der.octets(der.sanValue(o.dnsNames, o.ipAddresses ?? []))));
  }
  const tbs = der.seq(
    der.explicit(0, der.int(2)),
    der.uint(serial),
    alg,
    o.issuer,
    der.seq(der.time(o.notBefore), der.time(o.notAfter)),
    o.isCA ? o.issuer : der.name(o.subjectCN),
    spki(o.publicKey),
    der.explicit(3, der.seq(...exts)),
  );
  return der.seq(tbs, alg, der.bits(sign(hash, tbs, o.issuerKey)));
}
