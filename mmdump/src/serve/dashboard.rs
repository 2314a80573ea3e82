//! The live dashboard: one HTML page, a style sheet and a script, all
//! embedded in the binary (no external network, no CDN; the
//! Content-Security-Policy lets the page load nothing else).
//!
//! The script polls `/api/v1/live` once a second and shows a filterable
//! table of every field (value, rate per second, average rate since the
//! writer started, a sparkline); clicking a row opens a chart of that
//! field, which shows the recorded history (`/api/v1/history`) when the
//! server records, and the values seen since the page was opened
//! otherwise. The page's state (filter, view, charts) lives in the URL's
//! fragment, so a view can be bookmarked: `/#chart=web.ticks&filter=web`.
//! The layout collapses to one column on a phone.

use super::{Body, Response};

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");
const ICON: &str = include_str!("assets/favicon.svg");

/// `/`.
#[must_use]
pub fn page() -> Response {
    Response::new(
        200,
        "text/html; charset=utf-8",
        Body::Static(PAGE.as_bytes()),
    )
}

/// `/dashboard.js`.
#[must_use]
pub fn script() -> Response {
    Response::new(
        200,
        "text/javascript; charset=utf-8",
        Body::Static(SCRIPT.as_bytes()),
    )
}

/// `/dashboard.css`.
#[must_use]
pub fn style() -> Response {
    Response::new(
        200,
        "text/css; charset=utf-8",
        Body::Static(STYLE.as_bytes()),
    )
}

/// `/favicon.svg`.
#[must_use]
pub fn icon() -> Response {
    Response::new(200, "image/svg+xml", Body::Static(ICON.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let icon = ICON.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for asset in [PAGE, SCRIPT, STYLE, icon.as_str()] {
            for outside in ["http://", "https://", "//cdn", "@import"] {
                assert!(!asset.contains(outside), "{outside} in an asset");
            }
        }
        assert!(PAGE.contains("<script src=\"/dashboard.js\""));
        assert!(PAGE.contains("href=\"/dashboard.css\""));
        assert!(PAGE.contains("name=\"viewport\""), "readable on a phone");
        assert!(
            !PAGE.contains("style=\""),
            "no inline styles (the CSP forbids them)"
        );
        assert!(
            !PAGE.contains("<script>"),
            "no inline scripts (the CSP forbids them)"
        );
    }
}
