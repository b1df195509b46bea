//! Named lists for the `lists` capability, loaded from the admin's files:
//! Mastodon domain-block CSV exports and plain one-entry-per-line text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use palisade_sdk::memory::NamedList;
use palisade_sdk::{DomainEntry, Severity};

/// A list file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read list `{name}` from {path}: {source}")]
    Read {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("list `{name}` ({path}), line {line}: {message}")]
    Format {
        name: String,
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// How a list file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListFormat {
    /// Mastodon's domain-block export: `#domain,#severity,#reject_media,
    /// #reject_reports,#public_comment,#obfuscate` (headers with or without
    /// `#`; only `domain` is required).
    MastodonCsv,
    /// One entry per line; `#` starts a comment.
    Text,
}

impl ListFormat {
    /// `.csv` files are Mastodon exports, anything else plain text.
    pub fn from_path(path: &Path) -> ListFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => ListFormat::MastodonCsv,
            _ => ListFormat::Text,
        }
    }
}

/// All lists, by name. Immutable once built.
#[derive(Debug, Default, Clone)]
pub struct Lists {
    lists: HashMap<String, NamedList>,
}

impl Lists {
    pub fn get(&self, name: &str) -> Option<&NamedList> {
        self.lists.get(name)
    }

    pub fn insert(&mut self, name: &str, list: NamedList) {
        self.lists.insert(name.to_owned(), list);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    /// Load list `name` from `path` into the set.
    pub fn load(
        &mut self,
        name: &str,
        path: &Path,
        format: ListFormat,
        severity: Severity,
    ) -> Result<(), ListError> {
        let list = Lists::read(name, path, format, severity)?;
        self.insert(name, list);
        Ok(())
    }

    /// Read list `name` from `path`.
    pub fn read(
        name: &str,
        path: &Path,
        format: ListFormat,
        severity: Severity,
    ) -> Result<NamedList, ListError> {
        let text = std::fs::read_to_string(path).map_err(|source| ListError::Read {
            name: name.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        let list = match format {
            ListFormat::Text => parse_text(&text, severity),
            ListFormat::MastodonCsv => {
                parse_mastodon_csv(&text).map_err(|(line, message)| ListError::Format {
                    name: name.to_owned(),
                    path: path.to_owned(),
                    line,
                    message,
                })?
            }
        };
        Ok(list)
    }
}

/// One entry per line; blank lines and `#` comments ignored.
pub fn parse_text(text: &str, severity: Severity) -> NamedList {
    NamedList::plain(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty()),
        severity,
    )
}

/// A Mastodon domain-block CSV export. Errors carry the 1-based line.
pub fn parse_mastodon_csv(text: &str) -> Result<NamedList, (u64, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| (1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('#').to_ascii_lowercase())
        .collect::<Vec<_>>();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let domain_col = column("domain").ok_or_else(|| {
        (
            1,
            format!(
                "no `domain` column in the header (found: {}); expected Mastodon's \
                 #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate",
                headers.join(",")
            ),
        )
    })?;
    let (severity_col, media_col, reports_col, comment_col) = (
        column("severity"),
        column("reject_media"),
        column("reject_reports"),
        column("public_comment"),
    );
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            (line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or_default();
        let domain = field(Some(domain_col));
        if domain.is_empty() {
            continue;
        }
        let severity = match field(severity_col).to_ascii_lowercase().as_str() {
            "" | "suspend" => Severity::Suspend,
            "silence" => Severity::Silence,
            "noop" | "none" => Severity::Noop,
            other => {
                return Err((
                    line,
                    format!("unknown severity `{other}` (expected suspend, silence or noop)"),
                ));
            }
        };
        let flag = |col| {
            matches!(
                field(col).to_ascii_lowercase().as_str(),
                "true" | "1" | "yes"
            )
        };
        let comment = field(comment_col);
        entries.push(DomainEntry {
            domain: domain.to_owned(),
            severity,
            reject_media: flag(media_col),
            reject_reports: flag(reports_col),
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        });
    }
    Ok(NamedList::domains(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_export_with_hash_headers() {
        let csv = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
                   spam.example,suspend,true,true,Spam wave,false\n\
                   meh.example,silence,false,false,,false\n";
        let list = parse_mastodon_csv(csv).unwrap();
        let e = list.match_domain("a.spam.example").unwrap();
        assert_eq!(e.severity, Severity::Suspend);
        assert!(e.reject_media);
        assert_eq!(e.comment.as_deref(), Some("Spam wave"));
        assert_eq!(
            list.match_domain("meh.example").unwrap().severity,
            Severity::Silence
        );
    }

    #[test]
    fn plain_headers_and_missing_columns() {
        let list = parse_mastodon_csv("domain\nbad.example\n").unwrap();
        assert_eq!(
            list.match_domain("bad.example").unwrap().severity,
            Severity::Suspend
        );
    }

    #[test]
    fn errors_name_the_line() {
        let (line, msg) =
            parse_mastodon_csv("domain,severity\nok.example,silence\nx.example,ban\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("unknown severity `ban`"), "{msg}");
        let (line, msg) = parse_mastodon_csv("host,severity\nx.example,suspend\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(msg.contains("no `domain` column"), "{msg}");
    }

    #[test]
    fn text_lists_skip_comments() {
        let list = parse_text(
            "# invite hosts\ndiscord.gg\n\n  t.me  # telegram\n",
            Severity::Suspend,
        );
        assert_eq!(list.len(), 2);
        assert!(list.contains("T.ME"));
    }
}
