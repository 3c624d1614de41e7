//! Free text a client stores: names, descriptions and tags.
//!
//! No stored text may hold a control character (Unicode category Cc: C0 including NUL, tab,
//! CR and LF, DEL, and C1). PostgreSQL cannot store NUL in text at all, and a line break in a
//! name or description forges lines in logs, CSV exports and terminals; refusing them here
//! makes both stores behave alike.

/// The text holds a control character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("control characters (such as NUL, tab, CR or LF) are not allowed")]
pub struct ControlCharacter;

/// `Ok` when `text` holds no character of Unicode category Cc.
pub fn without_control_characters(text: &str) -> Result<(), ControlCharacter> {
    if text.chars().any(char::is_control) {
        Err(ControlCharacter)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every Cc character: C0, DEL and C1.
    fn control() -> impl Strategy<Value = char> {
        prop_oneof![
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
            Just('\u{7f}'),
            (0x80u32..0xa0).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
        ]
    }

    #[test]
    fn ordinary_text_passes() {
        assert_eq!(
            without_control_characters("Équipe plateforme / EU – 2026"),
            Ok(())
        );
    }

    proptest! {
        #[test]
        fn a_control_character_anywhere_is_refused(
            before in "\\PC{0,8}",
            control in control(),
            after in "\\PC{0,8}",
        ) {
            let text = format!("{before}{control}{after}");
            prop_assert_eq!(without_control_characters(&text), Err(ControlCharacter));
        }

        #[test]
        fn printable_text_is_accepted(text in "\\PC{0,40}") {
            prop_assert_eq!(without_control_characters(&text), Ok(()));
        }
    }
}
