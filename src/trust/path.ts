// The certification path the chain policy (src/trust/policy.ts) runs on, made
// sure to be a real path from the leaf to one of our trust anchors.
//
// Node hands checkServerIdentity the chain it rebuilds itself after the
// handshake (getPeerCertificate(true)): from the certificates the server
// sent, for each one the first whose names say it is the issuer, with no
// look at signatures or dates, then one issuer from the trust store. It is
// not the path OpenSSL verified, and Node shows no other: a server could
// put a strong, expired "decoy" with the right name before a weak issuer
// OpenSSL really used, and the policy would never see the weak one.
//
// So each link of Node's chain is checked to be real: the issuer's names,
// key identifier and key usage match (X509_check_issued, as OpenSSL builds
// paths), its key verifies the signature, it is a CA, it is within its
// validity period. The walk stops at the first certificate that is an
// anchor or that an anchor issued (OpenSSL looks in the trust store first at
// every step, too). When Node's chain is not such a path, the handshake
// fails ("do not form one chain"): the path OpenSSL took cannot be known,
// so none is assumed. Where Node's chain is a real path, it is the one
// OpenSSL took: OpenSSL's path builder takes, at every step, the first
// certificate the server sent that matches the issuer's names and is within
// its validity period; Node takes the first that matches, which is the same
// one when it is within its validity period.

import { X509Certificate } from 'crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'tls';
import { certificateNames } from './der';
import type { TrustAnchors } from './anchors';
import { withinValidity } from './anchors';

export interface CertificationPath {
  /** DER, the leaf first and the trust anchor last (one certificate when the leaf is an anchor itself) */
  certificates: Buffer[];
}

export class BrokenChain extends Error {}

/** The DER of the leaf, then of each issuer Node found: every one, no cap, no repeat. */
export function nodeChain(leaf: PeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let cert: DetailedPeerCertificate | undefined = leaf as DetailedPeerCertificate;
  while (cert && cert.raw && !chain.some((c) => c.equals(cert!.raw))) {
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

const BROKEN = "the server's certificates do not form one chain to a trust anchor";

function describe(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)$/.exec(cert.subject)?.[1];
  return cn !== undefined ? `"${cn.slice(0, 80)}"` : 'a certificate';
}

/** The real path from the leaf to an anchor along Node's chain, or why there is none. */
export function certificationPath(leaf: PeerCertificate, anchors: TrustAnchors, now = Date.now()): CertificationPath | BrokenChain {
  const chain = nodeChain(leaf);
  if (chain.length === 0) return new BrokenChain('the server sent no certificate');
  const certificates: Buffer[] = [];
  let current: X509Certificate;
  try {
    current = new X509Certificate(chain[0]);
  } catch {
    return new BrokenChain('the server certificate cannot be parsed');
  }
  for (let k = 0; ; k++) {
    const der = chain[k];
    certificates.push(der);
    if (anchors.has(der)) return { certificates };
    const issuerName = certificateNames(der)?.issuer;
    if (!issuerName) return new BrokenChain(`${BROKEN}: ${describe(current)} cannot be parsed`);
    const last = k + 1 === chain.length;
    const anchor = anchors.issuerOf(current, issuerName, now, last);
    if (anchor) return { certificates: [...certificates, anchor.der] };
    if (last) return new BrokenChain(`${BROKEN}: no trust anchor issued ${describe(current)}`);
    let issuer: X509Certificate;
    try {
      issuer = new X509Certificate(chain[k + 1]);
    } catch {
      return new BrokenChain(`${BROKEN}: the issuer of ${describe(current)} cannot be parsed`);
    }
    if (!current.checkIssued(issuer) || !current.verify(issuer.publicKey)) {
      return new BrokenChain(`${BROKEN}: ${describe(issuer)} did not sign ${describe(current)}`);
    }
    if (!issuer.ca) return new BrokenChain(`${BROKEN}: ${describe(issuer)}, issuer of ${describe(current)}, is not a CA`);
    if (!withinValidity(issuer, now)) {
      return new BrokenChain(`${BROKEN}: ${describe(issuer)}, issuer of ${describe(current)}, is expired or not yet valid`);
    }
    current = issuer;
  }
}
