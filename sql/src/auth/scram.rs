//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the stored
//! verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
//! PostgreSQL's own format, so a dump's `PASSWORD 'SCRAM-SHA-256$…'` loads)
//! and the server's side of the exchange.
//!
//! Only the verifier is kept: it lets the server check a client's proof but
//! not log in as the client. Channel binding (`-PLUS`) is not offered.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};

/// The mechanism name a server offers.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PBKDF2 rounds for new verifiers (PostgreSQL's default).
pub const ITERATIONS: u32 = 4096;
const KEY_LEN: usize = 32;

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The client sent something that is not SCRAM as PostgreSQL speaks it.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The proof does not match (or the role has no usable verifier).
    #[error("password authentication failed")]
    Failed,
}

/// What the server keeps of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(..)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0; KEY_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0; KEY_LEN];
    out.copy_from_slice(d.as_ref());
    out
}

/// Equality that takes the same time wherever the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Random bytes from the system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0; N];
    // The system generator only fails when the OS has no entropy source,
    // where nothing secure can be done.
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random generator works");
    out
}

impl Verifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn new(password: &str) -> Verifier {
        Verifier::derive(password, &random_bytes::<16>(), ITERATIONS)
    }

    fn derive(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        // As PostgreSQL: a password SASLprep cannot normalise is used as is.
        let normalized = stringprep::saslprep(password).unwrap_or(Cow::Borrowed(password));
        let mut salted = [0; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
            salt,
            normalized.as_bytes(),
            &mut salted,
        );
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&hmac_sha256(&salted, b"Client Key")),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// A stand-in for a role that does not exist or has no password: the
    /// exchange runs to its end with a salt that is stable per name (so a
    /// stranger cannot tell an unknown role from a wrong password), and
    /// then fails.
    pub fn mock(user: &str, secret: &[u8]) -> Verifier {
        let salt = hmac_sha256(secret, user.as_bytes());
        Verifier {
            iterations: ITERATIONS,
            salt: salt[..16].to_vec(),
            stored_key: hmac_sha256(secret, b"no stored key"),
            server_key: hmac_sha256(secret, b"no server key"),
        }
    }

    /// Parses PostgreSQL's text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let key = |s: &str| -> Option<[u8; KEY_LEN]> { B64.decode(s).ok()?.try_into().ok() };
        let iterations: u32 = iterations.parse().ok()?;
        if iterations == 0 {
            return None;
        }
        Some(Verifier {
            iterations,
            salt: B64.decode(salt).ok()?,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }

    /// Whether `password` is the one this verifier was made from.
    pub fn matches(&self, password: &str) -> bool {
        let other = Verifier::derive(password, &self.salt, self.iterations);
        same(&other.stored_key, &self.stored_key)
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

/// The server between its first message and the client's final one.
#[derive(Debug)]
pub struct Exchange {
    verifier: Verifier,
    /// False for a mock verifier: the exchange fails whatever the proof.
    genuine: bool,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl Exchange {
    /// Answers the client's first message (`n,,n=user,r=nonce`) with the
    /// server's first (`r=…,s=salt,i=iterations`). `verifier` is the role's,
    /// or `None` when the role cannot log in with a password; `mock` stands
    /// in for it then.
    pub fn start(
        verifier: Option<Verifier>,
        mock: Verifier,
        client_first: &[u8],
    ) -> Result<(Exchange, String), ScramError> {
        let nonce = B64.encode(random_bytes::<18>());
        Exchange::start_with_nonce(verifier, mock, client_first, &nonce)
    }

    fn start_with_nonce(
        verifier: Option<Verifier>,
        mock: Verifier,
        client_first: &[u8],
        server_nonce: &str,
    ) -> Result<(Exchange, String), ScramError> {
        let text = std::str::from_utf8(client_first)
            .map_err(|_| ScramError::Malformed("client-first-message is not UTF-8"))?;
        let mut parts = text.splitn(3, ',');
        let (flag, authzid, bare) = match (parts.next(), parts.next(), parts.next()) {
            (Some(f), Some(a), Some(b)) => (f, a, b),
            _ => return Err(ScramError::Malformed("expected a GS2 header")),
        };
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => {
                return Err(ScramError::Malformed(
                    "channel binding was not offered by the server",
                ))
            }
            _ => return Err(ScramError::Malformed("unknown GS2 channel-binding flag")),
        }
        if !authzid.is_empty() {
            return Err(ScramError::Malformed(
                "an authorization identity is not supported",
            ));
        }
        let mut attrs = bare.split(',');
        // The user name is taken from the startup packet, as PostgreSQL
        // does; clients send it empty.
        if !attrs.next().is_some_and(|a| a.starts_with("n=")) {
            return Err(ScramError::Malformed("expected the user name attribute"));
        }
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .ok_or(ScramError::Malformed("expected a printable client nonce"))?;
        if attrs.any(|a| a.starts_with("m=")) {
            return Err(ScramError::Malformed(
                "mandatory extensions are not supported",
            ));
        }
        let genuine = verifier.is_some();
        let verifier = verifier.unwrap_or(mock);
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        Ok((
            Exchange {
                verifier,
                genuine,
                gs2_header: format!("{flag},{authzid},"),
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
            },
            server_first,
        ))
    }

    /// Checks the client's final message (`c=…,r=…,p=proof`) and returns the
    /// server's final one (`v=signature`).
    pub fn finish(self, client_final: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(client_final)
            .map_err(|_| ScramError::Malformed("client-final-message is not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("expected a proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .and_then(|c| B64.decode(c).ok())
            .ok_or(ScramError::Malformed("expected channel-binding data"))?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramError::Malformed(
                "channel-binding data does not match the GS2 header",
            ));
        }
        if attrs.next().and_then(|a| a.strip_prefix("r=")) != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let proof: [u8; KEY_LEN] = B64
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::Malformed("proof is not 32 bytes of base64"))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (k, s) in client_key.iter_mut().zip(signature) {
            *k ^= s;
        }
        if !same(&sha256(&client_key), &self.verifier.stored_key) || !self.genuine {
            return Err(ScramError::Failed);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677, section 3: user "user", password "pencil".
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_verifier(password: &str) -> Verifier {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        Verifier::derive(password, &salt, 4096)
    }

    fn start(v: Option<Verifier>) -> (Exchange, String) {
        let mock = Verifier::mock("user", b"secret");
        Exchange::start_with_nonce(v, mock, CLIENT_FIRST.as_bytes(), SERVER_NONCE).unwrap()
    }

    #[test]
    fn rfc7677_exchange() {
        let (ex, first) = start(Some(rfc_verifier("pencil")));
        assert_eq!(first, SERVER_FIRST);
        assert_eq!(ex.finish(CLIENT_FINAL.as_bytes()).unwrap(), SERVER_FINAL);
    }

    #[test]
    fn wrong_password_and_mock_fail_the_same_way() {
        let (ex, _) = start(Some(rfc_verifier("pencils")));
        assert_eq!(ex.finish(CLIENT_FINAL.as_bytes()), Err(ScramError::Failed));
        let (ex, first) = start(None);
        assert!(first.starts_with("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s="));
        assert_eq!(ex.finish(CLIENT_FINAL.as_bytes()), Err(ScramError::Failed));
        // The mock's salt is stable per name, so probing twice tells nothing.
        assert_eq!(start(None).1, first);
    }

    #[test]
    fn tampered_messages_are_malformed() {
        let bad_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        let (ex, _) = start(Some(rfc_verifier("pencil")));
        assert!(matches!(
            ex.finish(bad_nonce.as_bytes()),
            Err(ScramError::Malformed(_))
        ));
        let bad_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        let (ex, _) = start(Some(rfc_verifier("pencil")));
        assert!(matches!(
            ex.finish(bad_binding.as_bytes()),
            Err(ScramError::Malformed(_))
        ));
        let mock = || Verifier::mock("u", b"s");
        for first in [
            "",
            "n,,",
            "x,,n=,r=abc",
            "p=tls-server-end-point,,n=,r=a",
            "n,a=admin,n=,r=a",
            "n,,n=,r=",
            "n,,n=,r=a,m=ext",
        ] {
            assert!(
                Exchange::start(None, mock(), first.as_bytes()).is_err(),
                "{first}"
            );
        }
        assert!(Exchange::start(None, mock(), &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn verifier_text_round_trips_and_checks_passwords() {
        let v = Verifier::new("s3cret");
        let text = v.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"));
        assert!(!text.contains("s3cret"));
        let back = Verifier::parse(&text).unwrap();
        assert_eq!(back, v);
        assert!(back.matches("s3cret"));
        assert!(!back.matches("s3cret "));
        for bad in [
            "",
            "md5abc",
            "SCRAM-SHA-256$0:AA==$AA==:AA==",
            "SCRAM-SHA-256$4096:AA==$AA==:AA==",
        ] {
            assert!(Verifier::parse(bad).is_none(), "{bad}");
        }
        // Two verifiers of one password differ (fresh salts).
        assert_ne!(Verifier::new("s3cret").to_string(), text);
    }
}
