//! The signed string written as text: `{timestamp}.{body}`, `v0:{timestamp}:{body}`,
//! `{header:webhook-id}.{timestamp}.{body}`. Configuration describes a sender we do not ship
//! this way.

use std::borrow::Cow;

use http::HeaderName;

use super::SignedPart;

/// The longest template accepted, in bytes: a signed string names a few parts, and the bound
/// keeps a configuration mistake from building a huge message description.
pub const MAX_TEMPLATE_LEN: usize = 512;

/// Why a signed-string template could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is empty.
    #[error("the signed string is empty; `{{body}}` signs the body alone")]
    Empty,
    /// The template is longer than [`MAX_TEMPLATE_LEN`].
    #[error("the signed string is longer than {MAX_TEMPLATE_LEN} bytes")]
    TooLong,
    /// A `{` without its `}`, or a lone `}` (write `{{` and `}}` for braces).
    #[error("unbalanced brace at byte {at}; write `{{{{` or `}}}}` for a literal brace")]
    Unbalanced {
        /// Where, counting from 0.
        at: usize,
    },
    /// A `{name}` that is not a part.
    #[error(
        "unknown part `{{{name}}}`; the parts are {{body}}, {{timestamp}}, {{header:NAME}}, \
         {{method}}, {{url}} and {{form}}"
    )]
    UnknownPart {
        /// What was between the braces.
        name: String,
    },
    /// `{header:NAME}` with a name that is not a header name.
    #[error("`{name}` in `{{header:{name}}}` is not a valid header name")]
    BadHeader {
        /// The name as written.
        name: String,
    },
    /// The body is not signed, so anyone could change it.
    #[error("the signed string does not contain `{{body}}` or `{{form}}`, so the body would go unchecked")]
    NoBody,
}

impl SignedPart {
    /// Reads a signed string written as text: `{body}` (the raw body), `{timestamp}` (the
    /// timestamp as sent), `{header:NAME}` (a header's value), `{method}` and `{url}` (the
    /// request line: the full URL posted to, as received), `{form}` (the form parameters sorted
    /// by name, Twilio's way) and literal text between them, `{{` and `}}` for braces. The body
    /// must be signed, by `{body}` or `{form}`.
    ///
    /// ```
    /// use http::HeaderName;
    /// use receiver_sdk::verify::SignedPart;
    ///
    /// let parts = SignedPart::parse_template("{header:webhook-id}.{timestamp}.{body}")?;
    /// assert_eq!(parts, [
    ///     SignedPart::Header(HeaderName::from_static("webhook-id")),
    ///     SignedPart::Literal(".".into()),
    ///     SignedPart::Timestamp,
    ///     SignedPart::Literal(".".into()),
    ///     SignedPart::Body,
    /// ]);
    /// assert!(SignedPart::parse_template("{timestamp}.{bdy}").is_err());
    /// # Ok::<(), receiver_sdk::verify::TemplateError>(())
    /// ```
    pub fn parse_template(template: &str) -> Result<Vec<Self>, TemplateError> {
        if template.is_empty() {
            return Err(TemplateError::Empty);
        }
        if template.len() > MAX_TEMPLATE_LEN {
            return Err(TemplateError::TooLong);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template.char_indices().peekable();
        while let Some((at, c)) = rest.next() {
            match c {
                '{' if rest.next_if(|&(_, next)| next == '{').is_some() => literal.push('{'),
                '}' if rest.next_if(|&(_, next)| next == '}').is_some() => literal.push('}'),
                '}' => return Err(TemplateError::Unbalanced { at }),
                '{' => {
                    let start = at + 1;
                    let end = template[start..]
                        .find('}')
                        .map(|len| start + len)
                        .ok_or(TemplateError::Unbalanced { at })?;
                    let name = &template[start..end];
                    if name.contains('{') {
                        return Err(TemplateError::Unbalanced { at });
                    }
                    if !literal.is_empty() {
                        parts.push(Self::Literal(Cow::Owned(std::mem::take(&mut literal))));
                    }
                    parts.push(part(name)?);
                    while rest.next_if(|&(i, _)| i <= end).is_some() {}
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Self::Literal(Cow::Owned(literal)));
        }
        if !parts.contains(&Self::Body) && !parts.contains(&Self::SortedFormParams) {
            return Err(TemplateError::NoBody);
        }
        Ok(parts)
    }
}

fn part(name: &str) -> Result<SignedPart, TemplateError> {
    match name {
        "body" => Ok(SignedPart::Body),
        "timestamp" => Ok(SignedPart::Timestamp),
        "method" => Ok(SignedPart::Method),
        "url" => Ok(SignedPart::URL),
        "form" => Ok(SignedPart::SortedFormParams),
        _ => match name.strip_prefix("header:") {
            Some(header) => HeaderName::try_from(header)
                .map(SignedPart::Header)
                .map_err(|_| TemplateError::BadHeader {
                    name: header.to_owned(),
                }),
            None => Err(TemplateError::UnknownPart {
                name: name.to_owned(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(text: &str) -> SignedPart {
        SignedPart::Literal(Cow::Owned(text.to_owned()))
    }

    #[test]
    fn zoom_and_slack_shapes_read_as_their_parts() {
        assert_eq!(
            SignedPart::parse_template("v0:{timestamp}:{body}"),
            Ok(vec![
                literal("v0:"),
                SignedPart::Timestamp,
                literal(":"),
                SignedPart::Body
            ])
        );
        assert_eq!(
            SignedPart::parse_template("{body}"),
            Ok(vec![SignedPart::Body])
        );
    }

    #[test]
    fn the_request_line_and_the_form_are_parts() {
        assert_eq!(
            SignedPart::parse_template("{method}{url}{body}{timestamp}"),
            Ok(vec![
                SignedPart::Method,
                SignedPart::URL,
                SignedPart::Body,
                SignedPart::Timestamp
            ])
        );
        // Twilio's shape: the form signs the body.
        assert_eq!(
            SignedPart::parse_template("{url}{form}"),
            Ok(vec![SignedPart::URL, SignedPart::SortedFormParams])
        );
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        assert_eq!(
            SignedPart::parse_template("{{{body}}}"),
            Ok(vec![literal("{"), SignedPart::Body, literal("}")])
        );
    }

    #[test]
    fn a_header_name_is_matched_without_regard_to_case() {
        let parts = SignedPart::parse_template("{header:X-Webhook-Id}{body}").unwrap();
        assert_eq!(
            parts[0],
            SignedPart::Header(HeaderName::from_static("x-webhook-id"))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("", TemplateError::Empty),
            ("{body", TemplateError::Unbalanced { at: 0 }),
            ("{body}}", TemplateError::Unbalanced { at: 6 }),
            ("a{b{body}", TemplateError::Unbalanced { at: 1 }),
            (
                "{timestamp}.{bdy}",
                TemplateError::UnknownPart { name: "bdy".into() },
            ),
            (
                "{header:bad name}{body}",
                TemplateError::BadHeader {
                    name: "bad name".into(),
                },
            ),
            ("{timestamp}", TemplateError::NoBody),
        ];
        for (template, error) in cases {
            assert_eq!(
                SignedPart::parse_template(template),
                Err(error),
                "{template}"
            );
        }
        let long = format!("{}{{body}}", "x".repeat(MAX_TEMPLATE_LEN));
        assert_eq!(
            SignedPart::parse_template(&long),
            Err(TemplateError::TooLong)
        );
    }

    #[test]
    fn messages_show_the_parts_with_their_braces() {
        let unknown = TemplateError::UnknownPart { name: "bdy".into() };
        assert_eq!(
            unknown.to_string(),
            "unknown part `{bdy}`; the parts are {body}, {timestamp}, {header:NAME}, {method}, \
             {url} and {form}"
        );
        assert_eq!(
            TemplateError::Unbalanced { at: 3 }.to_string(),
            "unbalanced brace at byte 3; write `{{` or `}}` for a literal brace"
        );
    }
}
