//! Credentials rather than signatures: HTTP Basic (RFC 7617) and static tokens.
//!
//! Configured values are kept only as SHA-256 digests and compared digest to digest in constant
//! time, so neither the comparison's duration nor an early exit reveals a value's length, which
//! pair was close, or whether the user or the password was wrong.

use std::fmt;

use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::{Choice, ConstantTimeEq};

use super::{
    check_secret, credential_digest, visible_ascii, FailureKind, SecretError, LENIENT_BASE64,
};
use crate::Secret;

type Digest = [u8; 32];

/// The value of a credentials header that must appear exactly once, without surrounding
/// whitespace.
///
/// A value that is empty or only whitespace is no credential at all: HTTP/1 parsers trim
/// `Authorization: ` to nothing, but HTTP/2 hands the value over as sent, so both must read
/// the same.
fn credentials_header<'h>(
    headers: &'h HeaderMap,
    header: &HeaderName,
) -> Result<&'h str, FailureKind> {
    let mut values = headers.get_all(header).iter();
    let value = values.next().ok_or(FailureKind::MissingCredentials)?;
    if values.next().is_some() {
        return Err(FailureKind::MalformedCredentials);
    }
    if value.as_bytes().iter().all(|&b| b == b' ' || b == b'\t') {
        return Err(FailureKind::MissingCredentials);
    }
    visible_ascii(value)
        .map(|value| value.trim_matches(' '))
        .ok_or(FailureKind::MalformedCredentials)
}

/// The credentials after an auth-scheme word such as `Basic` (matched case-insensitively, as
/// RFC 9110 §11.1 requires); `None` if the value starts with another word.
///
/// A scheme word with nothing after it (`Bearer`, `Bearer `) is an empty credential, which
/// callers treat as none sent: [`FailureKind::MissingCredentials`].
fn after_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let (word, rest) = value.split_once(' ').unwrap_or((value, ""));
    word.eq_ignore_ascii_case(scheme)
        .then(|| rest.trim_matches(' '))
}

#[derive(Clone)]
struct Credential {
    user: Digest,
    password: Digest,
}

#[derive(Clone)]
pub(super) struct Basic {
    realm: String,
    challenge: Option<HeaderValue>,
    credentials: Vec<Credential>,
}

impl Basic {
    pub(super) fn new(
        realm: &str,
        credentials: impl IntoIterator<Item = (String, Secret)>,
    ) -> Result<Self, SecretError> {
        let credentials = credentials
            .into_iter()
            .enumerate()
            .map(|(index, (user, password))| {
                check_secret(index, password.expose())?;
                Ok(Credential {
                    user: credential_digest(user.as_bytes()),
                    password: credential_digest(password.expose()),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            realm: realm.to_owned(),
            challenge: challenge(realm),
            credentials,
        })
    }

    pub(super) fn verify(&self, headers: &HeaderMap) -> Result<(), FailureKind> {
        let value = credentials_header(headers, &AUTHORIZATION)?;
        let encoded = after_scheme(value, "Basic").ok_or(FailureKind::MalformedCredentials)?;
        if encoded.is_empty() {
            return Err(FailureKind::MissingCredentials);
        }
        let decoded = LENIENT_BASE64
            .decode(encoded)
            .map_err(|_| FailureKind::MalformedCredentials)?;
        // The user id cannot contain a colon (RFC 7617 §2), so the first one splits.
        let colon = decoded
            .iter()
            .position(|&b| b == b':')
            .ok_or(FailureKind::MalformedCredentials)?;
        let user = credential_digest(&decoded[..colon]);
        let password = credential_digest(&decoded[colon + 1..]);

        let mut matched = Choice::from(0);
        for credential in &self.credentials {
            matched |= credential.user.ct_eq(&user) & credential.password.ct_eq(&password);
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(FailureKind::BadCredentials)
        }
    }

    pub(super) fn challenge(&self) -> Option<HeaderValue> {
        self.challenge.clone()
    }
}

/// `Basic realm="…", charset="UTF-8"`, with the realm written as a valid quoted-string.
fn challenge(realm: &str) -> Option<HeaderValue> {
    let mut quoted = String::with_capacity(realm.len());
    for c in realm.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    // Without control characters every byte is one `HeaderValue` accepts, so this is `Some`.
    HeaderValue::from_str(&format!("Basic realm=\"{quoted}\", charset=\"UTF-8\"")).ok()
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even user names stay out: they are half of each credential.
        f.debug_struct("Basic")
            .field("realm", &self.realm)
            .field("credentials", &self.credentials.len())
            .finish()
    }
}

#[derive(Clone)]
pub(super) struct Token {
    header: HeaderName,
    tokens: Vec<Digest>,
}

impl Token {
    /// `Bearer` when the token travels in `Authorization` (RFC 6750); other headers have no
    /// standard challenge.
    pub(super) fn challenge(&self) -> Option<HeaderValue> {
        (self.header == http::header::AUTHORIZATION)
            .then(|| HeaderValue::from_static("Bearer realm=\"webhooks\""))
    }

    pub(super) fn new(
        header: HeaderName,
        tokens: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let tokens = tokens
            .into_iter()
            .enumerate()
            .map(|(index, token)| {
                let token = token.into();
                check_secret(index, token.expose())?;
                Ok(credential_digest(token.expose()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { header, tokens })
    }

    pub(super) fn verify(&self, headers: &HeaderMap) -> Result<(), FailureKind> {
        let value = credentials_header(headers, &self.header)?;
        let bearer = if self.header == AUTHORIZATION {
            after_scheme(value, "Bearer")
        } else {
            None
        };
        if bearer == Some("") {
            return Err(FailureKind::MissingCredentials);
        }
        let mut matched = Choice::from(0);
        for candidate in [Some(value), bearer].into_iter().flatten() {
            let candidate = credential_digest(candidate.as_bytes());
            for token in &self.tokens {
                matched |= token.ct_eq(&candidate);
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(FailureKind::BadCredentials)
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("header", &self.header)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;
    use crate::verify::{sign, test_support, Verifier};

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH
    }

    fn basic() -> Verifier {
        Verifier::basic(
            "webhooks",
            [
                ("sonar".to_owned(), Secret::from("first-password")),
                ("relay".to_owned(), Secret::from("second-password")),
            ],
        )
        .unwrap()
    }

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn kind(verifier: &Verifier, headers: &HeaderMap) -> FailureKind {
        test_support::kind(verifier, headers, b"", now())
    }

    #[test]
    fn signing_matches_rfc_7617_example() {
        // RFC 7617 §2: user "Aladdin", password "open sesame".
        assert_eq!(
            sign::basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn either_configured_pair_is_accepted() {
        let verifier = basic();
        for (user, password) in [("sonar", "first-password"), ("relay", "second-password")] {
            verifier
                .verify(&authorization(&sign::basic(user, password)), b"", now())
                .unwrap();
        }
    }

    #[test]
    fn scheme_word_is_case_insensitive() {
        let encoded = STANDARD.encode("sonar:first-password");
        basic()
            .verify(&authorization(&format!("bAsIc  {encoded}")), b"", now())
            .unwrap();
    }

    #[test]
    fn pairs_do_not_mix() {
        assert_eq!(
            kind(
                &basic(),
                &authorization(&sign::basic("sonar", "second-password"))
            ),
            FailureKind::BadCredentials
        );
    }

    #[test]
    fn wrong_user_or_password_is_bad_credentials() {
        for (user, password) in [
            ("sonar", "first-passwore"),
            ("sonaR", "first-password"),
            ("sonar", "first-password "),
            ("sonar", ""),
            ("", ""),
        ] {
            assert_eq!(
                kind(&basic(), &authorization(&sign::basic(user, password))),
                FailureKind::BadCredentials,
                "{user:?}:{password:?}"
            );
        }
    }

    #[test]
    fn password_may_contain_colons() {
        let verifier = Verifier::basic("r", [("u".to_owned(), Secret::from("a:b:c"))]).unwrap();
        verifier
            .verify(&authorization(&sign::basic("u", "a:b:c")), b"", now())
            .unwrap();
    }

    #[test]
    fn missing_authorization_is_missing_credentials() {
        assert_eq!(
            kind(&basic(), &HeaderMap::new()),
            FailureKind::MissingCredentials
        );
    }

    #[test]
    fn unparseable_authorization_is_malformed() {
        let no_colon = format!("Basic {}", STANDARD.encode("sonarfirst-password"));
        for value in [
            "Basic not*base64",
            no_colon.as_str(),
            "Bearer c29uYXI6Zmlyc3QtcGFzc3dvcmQ=",
            "c29uYXI6Zmlyc3QtcGFzc3dvcmQ=",
        ] {
            assert_eq!(
                kind(&basic(), &authorization(value)),
                FailureKind::MalformedCredentials,
                "{value:?}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes("Basic é".as_bytes()).unwrap(),
        );
        assert_eq!(kind(&basic(), &headers), FailureKind::MalformedCredentials);
    }

    #[test]
    fn repeated_authorization_is_malformed() {
        let mut headers = authorization(&sign::basic("sonar", "first-password"));
        headers.append(
            AUTHORIZATION,
            HeaderValue::from_str(&sign::basic("relay", "second-password")).unwrap(),
        );
        assert_eq!(kind(&basic(), &headers), FailureKind::MalformedCredentials);
    }

    #[test]
    fn non_utf8_credentials_compare_as_bytes() {
        let password = Secret::new(vec![0xff, 0x00, 0x80]);
        let verifier = Verifier::basic("r", [("u".to_owned(), password)]).unwrap();
        let encoded = STANDARD.encode([b'u', b':', 0xff, 0x00, 0x80]);
        verifier
            .verify(&authorization(&format!("Basic {encoded}")), b"", now())
            .unwrap();
    }

    #[test]
    fn no_configured_pairs_rejects_everyone() {
        let verifier = Verifier::basic("r", []).unwrap();
        assert_eq!(
            kind(&verifier, &authorization(&sign::basic("u", "p"))),
            FailureKind::BadCredentials
        );
    }

    #[test]
    fn challenge_names_realm_and_charset() {
        assert_eq!(
            basic().challenge().unwrap(),
            "Basic realm=\"webhooks\", charset=\"UTF-8\""
        );
    }

    #[test]
    fn challenge_escapes_quotes_and_drops_control_characters() {
        let verifier = Verifier::basic("a \"b\" \\c\r\nSet-Cookie: x", []).unwrap();
        assert_eq!(
            verifier.challenge().unwrap(),
            "Basic realm=\"a \\\"b\\\" \\\\cSet-Cookie: x\", charset=\"UTF-8\""
        );
    }

    #[test]
    fn a_token_in_authorization_challenges_with_bearer() {
        assert_eq!(
            Verifier::token(AUTHORIZATION, ["t"])
                .unwrap()
                .challenge()
                .unwrap(),
            "Bearer realm=\"webhooks\""
        );
    }

    #[test]
    fn other_schemes_have_no_challenge() {
        assert!(Verifier::none().challenge().is_none());
        let custom = HeaderName::from_static("x-token");
        assert!(Verifier::token(custom, ["t"])
            .unwrap()
            .challenge()
            .is_none());
        assert!(Verifier::github(["s"]).unwrap().challenge().is_none());
    }

    fn token() -> Verifier {
        Verifier::token(
            HeaderName::from_static("x-token"),
            ["old-token", "new-token"],
        )
        .unwrap()
    }

    fn x_token(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-token", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn either_configured_token_is_accepted() {
        for value in ["old-token", "new-token"] {
            token().verify(&x_token(value), b"", now()).unwrap();
        }
    }

    #[test]
    fn wrong_token_is_bad_credentials() {
        for value in ["new-toke", "new-token2", "NEW-TOKEN", "Bearer new-token"] {
            assert_eq!(
                kind(&token(), &x_token(value)),
                FailureKind::BadCredentials,
                "{value:?}"
            );
        }
    }

    #[test]
    fn missing_token_is_missing_credentials() {
        assert_eq!(
            kind(&token(), &HeaderMap::new()),
            FailureKind::MissingCredentials
        );
        // The token belongs in x-token; Authorization is not looked at.
        assert_eq!(
            kind(&token(), &authorization("Bearer new-token")),
            FailureKind::MissingCredentials
        );
    }

    #[test]
    fn repeated_token_is_malformed() {
        let mut headers = x_token("new-token");
        headers.append("x-token", HeaderValue::from_static("new-token"));
        assert_eq!(kind(&token(), &headers), FailureKind::MalformedCredentials);
    }

    #[test]
    fn bearer_is_accepted_in_authorization() {
        let verifier = Verifier::token(AUTHORIZATION, ["t0ken"]).unwrap();
        for value in ["Bearer t0ken", "bearer t0ken", "t0ken"] {
            verifier.verify(&authorization(value), b"", now()).unwrap();
        }
        for value in ["Bearer t0ke", "Basic t0ken"] {
            assert_eq!(
                kind(&verifier, &authorization(value)),
                FailureKind::BadCredentials,
                "{value:?}"
            );
        }
    }

    #[test]
    fn regression_empty_and_blank_secrets_are_refused_when_building() {
        // `secrets = [""]` built a token verifier that `Authorization: Bearer ` over HTTP/2
        // (where the trailing space is not trimmed) satisfied.
        for blank in ["", " ", "\t", " \r\n "] {
            assert_eq!(
                Verifier::token(AUTHORIZATION, ["good-token", blank]).unwrap_err(),
                SecretError::EmptySecret { index: 1 },
                "{blank:?}"
            );
            let pairs = [("u".to_owned(), Secret::from(blank))];
            assert_eq!(
                Verifier::basic("r", pairs).unwrap_err(),
                SecretError::EmptySecret { index: 0 },
                "{blank:?}"
            );
            for hmac in [
                Verifier::github([blank]),
                Verifier::shopify([blank]),
                Verifier::superoffice([blank]),
                Verifier::stripe([blank]),
                Verifier::slack([blank]),
            ] {
                assert_eq!(hmac.unwrap_err(), SecretError::EmptySecret { index: 0 });
            }
        }
        let message = SecretError::EmptySecret { index: 1 }.to_string();
        assert_eq!(message, "secret at index 1 is empty or only whitespace");
    }

    #[test]
    fn regression_an_empty_credential_is_no_credential() {
        // HTTP/2 keeps `Bearer ` as sent; it matched a configured empty token.
        let bearer = Verifier::token(AUTHORIZATION, ["t0ken"]).unwrap();
        for value in ["Bearer ", "Bearer", "bearer   ", " ", ""] {
            let headers = authorization(value);
            assert_eq!(
                kind(&bearer, &headers),
                FailureKind::MissingCredentials,
                "{value:?}"
            );
        }
        for value in ["Basic ", "Basic", "basic  ", " ", ""] {
            assert_eq!(
                kind(&basic(), &authorization(value)),
                FailureKind::MissingCredentials,
                "{value:?}"
            );
        }
        assert_eq!(
            kind(&token(), &x_token(" ")),
            FailureKind::MissingCredentials
        );
        // Surrounding spaces are not part of the value, over either HTTP version.
        bearer
            .verify(&authorization(" Bearer t0ken "), b"", now())
            .unwrap();
    }

    proptest! {
        #[test]
        fn signed_credentials_verify(user in "[^:\\x00]{0,20}", password in "[^\\s].{0,39}") {
            let verifier = Verifier::basic("r", [(user.clone(), Secret::from(password.as_str()))]).unwrap();
            let headers = authorization(&sign::basic(&user, &password));
            prop_assert!(verifier.verify(&headers, b"", now()).is_ok());
        }

        #[test]
        fn any_changed_password_fails(
            password in "[a-z]{1,20}",
            index in any::<prop::sample::Index>(),
        ) {
            let credentials = [("u".to_owned(), Secret::from(password.as_str()))];
            let verifier = Verifier::basic("r", credentials).unwrap();
            let mut changed = password.into_bytes();
            let at = index.index(changed.len());
            changed[at] = changed[at].to_ascii_uppercase();
            let changed = String::from_utf8(changed).unwrap();
            let headers = authorization(&sign::basic("u", &changed));
            prop_assert_eq!(kind(&verifier, &headers), FailureKind::BadCredentials);
        }

        #[test]
        fn arbitrary_authorization_values_never_panic(
            value in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, value);
                let _ = basic().verify(&headers, b"", now());
                let _ = Verifier::token(AUTHORIZATION, ["t"]).unwrap().verify(&headers, b"", now());
            }
        }

        #[test]
        fn structured_garbage_never_panics(
            value in "(Basic|Bearer|basic|) *[A-Za-z0-9+/=:]{0,60}",
        ) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, value);
                let _ = basic().verify(&headers, b"", now());
            }
        }
    }
}
