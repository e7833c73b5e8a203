//! What keeps a relay's URL templates on the host and path their config wrote.
//!
//! A URL template names its scheme, host, port and the start of its path literally
//! (`https://api.example/v1/accounts/{{ entity }}`): payload values may fill in the rest, but
//! never move the request elsewhere on the same API (its key goes along) or to another one.
//! Three layers, each enough on its own for the cases the others cover:
//!
//! * when compiling: the template must start with `scheme://host[:port]/` before its first
//!   tag, and may use no statement but `if`/`elif`/`else`/`endif`: macros, `call`, `filter`
//!   and `set` blocks, `include` and `raw` build text that would reach the URL without the
//!   encoder (the formatter only sees what `{{ }}` prints);
//! * when rendering: every printed value is percent-encoded, marked safe or not (`| safe`,
//!   `| tojson`, `| e` change nothing), and an empty or none value is an error; values are
//!   marked in the output so that the check below knows which text came from the payload;
//! * after rendering: a path segment holding a value must not be empty, `.` or `..`, also once
//!   or more percent-decoded (`%2e`, `%252E`: the URL parser and many servers decode), and a
//!   value in the path must not decode to `/`, `\`, `?`, `#` or a control character; then the
//!   URL is parsed and its scheme, host and port must be the literal ones and its path must
//!   start with the literal path.
//!
//! Values in the query are encoded too (`&`, `=`, `#` cannot add parameters or a fragment).

use percent_encoding::percent_decode_str;
use reqwest::Url;

/// Opens a value in rendered output (control characters never survive the encoder, and URL
/// template sources may not contain them).
pub(super) const OPEN: char = '\u{1}';
/// Closes a value in rendered output.
pub(super) const CLOSE: char = '\u{2}';

/// The statements a URL template may use: they choose between literal texts, never capture.
const ALLOWED_TAGS: &[&str] = &["if", "elif", "else", "endif"];

/// How often a value is percent-decoded when looking for a dot segment or a separator.
const DECODE_ROUNDS: usize = 8;

/// What the config fixed in one URL template: its literal start, parsed.
#[derive(Debug, Clone)]
pub(super) struct Fixed {
    base: Url,
    // The literal text reached the query or fragment: the whole path is literal.
    path_is_literal: bool,
}

/// Checks `source` as a URL template and returns what it fixes.
pub(super) fn fixed(source: &str) -> Result<Fixed, String> {
    if source.chars().any(char::is_control) {
        return Err("a URL template must not contain control characters".into());
    }
    for (at, _) in source.match_indices("{%") {
        let tag = source[at + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start()
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or_default();
        if !ALLOWED_TAGS.contains(&tag) {
            return Err(format!(
                "`{{% {tag} %}}` is not allowed in a URL template (only if, elif, else and \
                 endif): it could build text that bypasses the URL encoder"
            ));
        }
    }
    let literal_end = ["{{", "{%", "{#"]
        .iter()
        .filter_map(|tag| source.find(tag))
        .min()
        .unwrap_or(source.len());
    let literal = &source[..literal_end];
    let authority_fixed = literal
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    let base = Url::parse(literal).ok().filter(|url| {
        authority_fixed && matches!(url.scheme(), "http" | "https") && url.host().is_some()
    });
    let Some(base) = base else {
        return Err(
            "a URL template must start with a literal http:// or https:// host and `/` before \
             its first tag: the host, port and path start are the config's, not the payload's"
                .into(),
        );
    };
    Ok(Fixed {
        path_is_literal: literal.contains(['?', '#']),
        base,
    })
}

/// Where the scan of a rendered URL is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    Query,
    Fragment,
}

/// One path segment being scanned.
#[derive(Default)]
struct Segment {
    text: String,
    has_value: bool,
}

impl Segment {
    /// Refuses a segment with a value in it that is, or decodes to, empty, `.` or `..`.
    fn check(&self, number: usize) -> Result<(), String> {
        if !self.has_value {
            return Ok(());
        }
        let dot = decodings(&self.text)?
            .iter()
            .any(|stage| matches!(stage.as_str(), "" | "." | ".."));
        if dot {
            return Err(format!(
                "a value makes path segment {number} empty, `.` or `..` (also when \
                 percent-decoded), which would move the request to another path"
            ));
        }
        Ok(())
    }
}

/// `text`, then `text` percent-decoded, again and again until nothing changes.
fn decodings(text: &str) -> Result<Vec<String>, String> {
    let mut stages = vec![text.to_owned()];
    for _ in 0..DECODE_ROUNDS {
        let last = stages.last().map(String::as_str).unwrap_or_default();
        let next = percent_decode_str(last).decode_utf8_lossy().into_owned();
        if next == last {
            return Ok(stages);
        }
        stages.push(next);
    }
    Err("a value is percent-encoded too many times over".into())
}

/// Checks the output of a URL template (values between [`OPEN`] and [`CLOSE`]) against what
/// its config fixed, and returns the URL without the marks.
pub(super) fn checked(rendered: &str, fixed: &Fixed) -> Result<Url, String> {
    // The literal start holds the whole authority: scanning starts at the path.
    let path_start = rendered
        .find("://")
        .and_then(|scheme| rendered[scheme + 3..].find('/').map(|at| scheme + 3 + at))
        .ok_or("the rendered URL has no path")?;
    let mut url = String::with_capacity(rendered.len());
    url.push_str(&rendered[..path_start]);
    let mut part = Part::Path;
    let mut segment = Segment::default();
    let mut number = 0;
    let mut value: Option<String> = None;
    for c in rendered[path_start..].chars() {
        match (c, &mut value) {
            (OPEN, None) => value = Some(String::new()),
            (CLOSE, Some(text)) => {
                if part == Part::Path {
                    let separator = decodings(text)?.iter().any(|stage| {
                        stage.contains(['/', '\\', '?', '#']) || stage.chars().any(char::is_control)
                    });
                    if separator {
                        return Err(format!(
                            "a value in path segment {number} holds `/`, `\\`, `?`, `#` or a \
                             control character (also when percent-decoded), which would change \
                             the path"
                        ));
                    }
                    segment.has_value = true;
                    segment.text.push_str(text);
                }
                value = None;
            }
            (OPEN | CLOSE, _) => return Err("unbalanced value marks".into()),
            (c, Some(text)) => {
                text.push(c);
                url.push(c);
            }
            (c, None) => {
                url.push(c);
                match (part, c) {
                    (Part::Path, '/' | '\\') => {
                        segment.check(number)?;
                        segment = Segment::default();
                        number += 1;
                    }
                    (Part::Path, '?') => {
                        segment.check(number)?;
                        part = Part::Query;
                    }
                    (Part::Path | Part::Query, '#') => {
                        segment.check(number)?;
                        part = Part::Fragment;
                    }
                    (Part::Path, c) => segment.text.push(c),
                    _ => {}
                }
            }
        }
    }
    if value.is_some() {
        return Err("unbalanced value marks".into());
    }
    if part == Part::Path {
        segment.check(number)?;
    }
    let parsed = Url::parse(&url).map_err(|e| format!("the rendered URL does not parse: {e}"))?;
    let base = &fixed.base;
    let same_origin = parsed.scheme() == base.scheme()
        && parsed.host() == base.host()
        && parsed.port_or_known_default() == base.port_or_known_default();
    let same_path = if fixed.path_is_literal {
        parsed.path() == base.path()
    } else {
        parsed.path().starts_with(base.path())
    };
    if !same_origin || !same_path {
        return Err(
            "the rendered URL leaves the host, port or path start the template fixes".into(),
        );
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(value: &str) -> String {
        format!("{OPEN}{value}{CLOSE}")
    }

    #[test]
    fn a_template_must_fix_scheme_host_and_path_start() {
        for source in [
            "{{ base }}/x",
            "http://{{ host }}/x",
            "http://h{{ path }}",
            "http://h:{{ port }}/x",
            "ftp://h/{{ x }}",
            "{% if a %}http://a/{% else %}http://b/{% endif %}",
        ] {
            assert!(fixed(source).is_err(), "{source}");
        }
        assert!(fixed("http://h/x/{{ entity }}").is_ok());
        assert!(fixed("http://h:81/x/{% if a %}y{% else %}z{% endif %}/{{ id }}").is_ok());
    }

    #[test]
    fn statements_that_capture_text_are_refused() {
        for source in [
            "http://h/{% macro m(x) %}{{ x }}{% endmacro %}{{ m(entity) }}",
            "http://h/{% filter upper %}{{ entity }}{% endfilter %}",
            "http://h/{% set x %}{{ entity }}{% endset %}{{ x }}",
            "http://h/{%- raw %}a{% endraw %}",
            "http://h/{% include 'other' %}",
            "http://h/{% call m() %}{% endcall %}",
        ] {
            let error = fixed(source).unwrap_err();
            assert!(error.contains("not allowed"), "{source}: {error}");
        }
    }

    #[test]
    fn dot_segments_are_refused_however_they_are_encoded() {
        let fixed = fixed("http://h/a/{{ x }}").unwrap();
        for value in ["%2E", "%2E%2E", "%252e", "%2E.", "%25252E%25252e"] {
            let rendered = format!("http://h/a/{}/b", marked(value));
            assert!(checked(&rendered, &fixed).is_err(), "{value}");
        }
        let two = format!("http://h/a/{}{}", marked("%2E"), marked("%2E"));
        assert!(checked(&two, &fixed).is_err(), "two values make `..`");
        let fine = format!("http://h/a/{}", marked("v1.2"));
        assert_eq!(checked(&fine, &fixed).unwrap().path(), "/a/v1.2");
    }

    #[test]
    fn values_that_decode_to_separators_are_refused_in_the_path_only() {
        let in_path = fixed("http://h/a/{{ x }}").unwrap();
        for value in ["a%2Fb", "a%5Cb", "a%3Fb", "a%23b", "a%252Fb", "a%0D%0Ab"] {
            let rendered = format!("http://h/a/{}", marked(value));
            assert!(checked(&rendered, &in_path).is_err(), "{value}");
        }
        let in_query = fixed("http://h/a?q={{ x }}").unwrap();
        let rendered = format!("http://h/a?q={}", marked("a%2Fb%26c%3Dd%23e"));
        let url = checked(&rendered, &in_query).unwrap();
        assert_eq!(url.query_pairs().collect::<Vec<_>>().len(), 1);
        assert_eq!(url.fragment(), None);
    }

    #[test]
    fn a_url_that_leaves_the_literal_path_is_refused() {
        let fixed = fixed("http://h/api/v1/{{ x }}").unwrap();
        assert!(checked("http://h/api/v1/../../x", &fixed).is_err());
        assert!(checked("http://other/api/v1/x", &fixed).is_err());
        assert!(checked("http://h:81/api/v1/x", &fixed).is_err());
        assert!(checked("http://h:80/api/v1/x", &fixed).is_ok());
    }
}
