//! How `mmdump` decorates text: colour (only on a terminal, never with
//! `NO_COLOR` set, unless forced) and whether line-drawing characters may
//! be used (a UTF-8 locale, or no locale set at all).

use std::fmt;
use std::str::FromStr;

/// When to colour output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set to something non-empty.
    #[default]
    Auto,
    /// Always (even into a pipe).
    Always,
    /// Never.
    Never,
}

impl FromStr for ColorChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => Err(format!(
                "unknown colour choice {other:?} (auto, always, never)"
            )),
        }
    }
}

impl fmt::Display for ColorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Always => "always",
            Self::Never => "never",
        })
    }
}

/// Text decoration settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour sequences.
    pub color: bool,
    /// Use Unicode line drawing and block characters.
    pub unicode: bool,
}

/// An ANSI SGR colour or attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    /// Bold.
    Bold,
    /// Dim.
    Dim,
    /// Red.
    Red,
    /// Green.
    Green,
    /// Yellow.
    Yellow,
    /// Cyan.
    Cyan,
}

impl Paint {
    const fn code(self) -> &'static str {
        match self {
            Self::Bold => "1",
            Self::Dim => "2",
            Self::Red => "31",
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Cyan => "36",
        }
    }
}

impl Style {
    /// No colour, plain ASCII-safe output decisions left to the locale.
    #[must_use]
    pub fn plain() -> Self {
        Self {
            color: false,
            unicode: unicode_locale(),
        }
    }

    /// Decides from the user's choice and whether the output is a terminal.
    #[must_use]
    pub fn detect(choice: ColorChoice, is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: match choice {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => is_terminal && !no_color,
            },
            unicode: unicode_locale(),
        }
    }

    /// `text` painted (or as is without colour).
    #[must_use]
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", paint.code())
        } else {
            text.to_owned()
        }
    }
}

/// Whether the locale allows UTF-8 output: the first of `LC_ALL`,
/// `LC_CTYPE`, `LANG` that is set decides; none set counts as UTF-8.
#[must_use]
pub fn unicode_locale() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let value = value.to_string_lossy().to_ascii_lowercase();
            return value.contains("utf-8") || value.contains("utf8");
        }
    }
    true
}

/// Width of `text` on a terminal: characters, not bytes (every character
/// `mmdump` prints is one column wide; names are printed escaped).
#[must_use]
pub fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked_or_on_a_terminal() {
        assert!(!Style::detect(ColorChoice::Never, true).color);
        assert!(Style::detect(ColorChoice::Always, false).color);
        assert!(!Style::detect(ColorChoice::Auto, false).color);
        let style = Style {
            color: true,
            unicode: true,
        };
        assert_eq!(style.paint(Paint::Red, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Style::plain().paint(Paint::Red, "x"), "x");
        assert_eq!("never".parse::<ColorChoice>().unwrap(), ColorChoice::Never);
    }
}
