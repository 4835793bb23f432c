//! The links of a directory index page.

use std::sync::LazyLock;

use regex::Regex;

/// `href` attributes, double- or single-quoted.
static HREF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)href\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid"));

/// What a listing page links to below itself: files, and folders (ending in `/`), as relative,
/// still percent-encoded paths. Links up (`../`), to other hosts, absolute paths, queries
/// (sorting links) and fragments are left out.
pub(crate) fn relative_links(page: &str) -> Vec<String> {
    HREF.captures_iter(page)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().replace("&amp;", "&"))
        .filter(|h| {
            !h.is_empty()
                && !h.starts_with('/')
                && !h.starts_with('?')
                && !h.starts_with('#')
                && !h.starts_with("..")
                && !h.starts_with("./")
                && !h.contains("://")
                && !h.starts_with("mailto:")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_http_server_page_gives_its_files_and_folders() {
        // As python3 -m http.server writes it (abridged).
        let page = r#"<!DOCTYPE HTML><html><body><h1>Directory listing for /</h1><hr><ul>
<li><a href="a%20b.log">a b.log</a></li>
<li><a href="logs/">logs/</a></li>
<li><a href='x&amp;y.log'>x&amp;y.log</a></li>
</ul><hr></body></html>"#;
        assert_eq!(relative_links(page), ["a%20b.log", "logs/", "x&y.log"]);
    }

    #[test]
    fn links_up_out_or_to_sorting_are_left_out() {
        let page = r##"<a href="../">up</a><a href="?C=N;O=D">sort</a><a href="/abs">a</a>
<a href="http://elsewhere/f">x</a><a href="#top">t</a><a href="./self">s</a><a href="f.txt">f</a>"##;
        assert_eq!(relative_links(page), ["f.txt"]);
    }
}
