//! Text that came from a server, made safe to show and to store: control characters (terminal
//! escape sequences among them) removed, white space folded, the length bounded, and any secret
//! the request carried replaced by `[redacted]` should the server echo it.

/// Longest server text kept for a message (characters).
pub const MAX_SHOWN: usize = 400;

/// `raw` with control characters dropped (line breaks and tabs become spaces), runs of white space
/// folded to one space, and at most `max` characters (an ellipsis marks a cut).
pub fn shown(raw: &str, max: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max + 3));
    let mut count = 0;
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if hides_or_drives(c) {
            continue;
        }
        if pending_space {
            if count + 1 >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `raw` (invalid UTF-8 replaced) for a terminal, with its layout: line breaks and tabs stay, every
/// other control character (escape sequences, carriage returns) and the bidi and zero-width
/// controls are dropped. Unlike [`shown`], nothing is folded or cut.
pub fn for_terminal(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .filter(|&c| matches!(c, '\n' | '\t') || !hides_or_drives(c))
        .collect()
}

/// Cc (the terminal's own controls) and the bidi/format controls that can reorder or hide what a
/// terminal shows.
fn hides_or_drives(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every occurrence of each secret (of 8 characters or more) replaced.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        if out.contains(*s) {
            out = out.replace(*s, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_escape_sequences_never_pass() {
        let t = shown("Bad\x1b[31m red\x1b]0;title\x07\r\n\tthing\u{202e}txt", 100);
        assert!(!t.chars().any(|c| c.is_control()), "{t:?}");
        assert_eq!(t, "Bad[31m red]0;title thingtxt");
    }

    #[test]
    fn text_for_a_terminal_keeps_its_lines_and_loses_its_controls() {
        let raw = b"line 1\r\n\tline \x1b[31m2\x1b]0;title\x07\n\xe2\x80\xaeevil\xff";
        assert_eq!(
            for_terminal(raw),
            "line 1\n\tline [31m2]0;title\nevil\u{fffd}"
        );
    }

    #[test]
    fn length_is_bounded() {
        let long = "x".repeat(900_000);
        let t = shown(&long, MAX_SHOWN);
        assert_eq!(t.chars().count(), MAX_SHOWN + 1);
        assert!(t.ends_with('…'));
        assert_eq!(shown("a b", 3), "a b");
        assert_eq!(shown("  a   b  ", 10), "a b");
    }

    #[test]
    fn secrets_are_redacted() {
        let rt = "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA";
        assert_eq!(
            redact(&format!("Invalid token {rt}."), &[rt, "short"]),
            "Invalid token [redacted]."
        );
    }
}
