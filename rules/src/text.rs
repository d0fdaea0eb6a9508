//! Error and reason text for reports and logs: one line, bounded.

/// The longest error text a report or log line carries.
pub const MAX_ERROR_TEXT: usize = 600;

/// Control characters become spaces; past [`MAX_ERROR_TEXT`] bytes the text is cut, marked.
pub fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.len() <= MAX_ERROR_TEXT {
        return flat;
    }
    // The last character boundary at or before the limit.
    let cut = (0..=MAX_ERROR_TEXT)
        .rev()
        .find(|&i| flat.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}... [cut at {MAX_ERROR_TEXT} bytes]", &flat[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(one_line("a\nb\tc\u{7}"), "a b c ");
    }

    #[test]
    fn exactly_at_the_limit_is_kept_whole() {
        let at = "x".repeat(MAX_ERROR_TEXT);
        assert_eq!(one_line(&at), at);
    }

    #[test]
    fn past_the_limit_is_cut_on_a_character_boundary_and_says_so() {
        // "a" then three-byte characters: boundaries at 1, 4, 7 ... 598, 601; none at 600.
        let text = format!("a{}", "\u{20ac}".repeat(400));
        let cut = one_line(&text);
        assert_eq!(cut, format!("{}... [cut at 600 bytes]", &text[..598]));
        let one_past = "y".repeat(MAX_ERROR_TEXT + 1);
        assert_eq!(
            one_line(&one_past),
            format!("{}... [cut at 600 bytes]", "y".repeat(600))
        );
    }
}
