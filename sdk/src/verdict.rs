//! Constructors and queries for what modules return and declare.

use crate::{Description, Rewrite, Ruling, Score, Severity, Verdict};

impl Severity {
    /// Mastodon's name for the severity.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Silence => "silence",
            Severity::Suspend => "suspend",
            Severity::Noop => "noop",
        }
    }
}

impl Verdict {
    /// No opinion.
    pub fn pass() -> Self {
        Self::from(Ruling::Pass)
    }

    /// Allow the activity and stop the chain.
    pub fn accept(reason: impl Into<String>) -> Self {
        Self::from(Ruling::Accept(reason.into()))
    }

    /// Drop the activity.
    pub fn reject(reason: impl Into<String>) -> Self {
        Self::from(Ruling::Reject(reason.into()))
    }

    /// Hold the activity for a moderator.
    pub fn quarantine(reason: impl Into<String>) -> Self {
        Self::from(Ruling::Quarantine(reason.into()))
    }

    /// Add `points` to the activity's score. Add labels with [`Verdict::label`].
    pub fn score(points: f64, reason: impl Into<String>) -> Self {
        Self::from(Ruling::Score(Score {
            points,
            labels: Vec::new(),
            reason: reason.into(),
        }))
    }

    /// Attach a label to a score verdict (ignored on other rulings).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let Ruling::Score(score) = &mut self.ruling {
            score.labels.push(label.into());
        }
        self
    }

    /// Ask for a rewrite should the activity be let through.
    pub fn rewrite(mut self, rewrite: Rewrite) -> Self {
        if !self.rewrites.contains(&rewrite) {
            self.rewrites.push(rewrite);
        }
        self
    }

    pub fn is_pass(&self) -> bool {
        matches!(self.ruling, Ruling::Pass)
    }

    pub fn is_accept(&self) -> bool {
        matches!(self.ruling, Ruling::Accept(_))
    }

    pub fn is_reject(&self) -> bool {
        matches!(self.ruling, Ruling::Reject(_))
    }

    pub fn is_quarantine(&self) -> bool {
        matches!(self.ruling, Ruling::Quarantine(_))
    }

    /// The points of a score verdict, 0 otherwise.
    pub fn points(&self) -> f64 {
        match &self.ruling {
            Ruling::Score(s) => s.points,
            _ => 0.0,
        }
    }

    /// The labels of a score verdict, none otherwise.
    pub fn labels(&self) -> &[String] {
        match &self.ruling {
            Ruling::Score(s) => &s.labels,
            _ => &[],
        }
    }

    /// The reason given, if the ruling carries one.
    pub fn reason(&self) -> Option<&str> {
        match &self.ruling {
            Ruling::Pass => None,
            Ruling::Accept(r) | Ruling::Reject(r) | Ruling::Quarantine(r) => Some(r),
            Ruling::Score(s) => Some(&s.reason),
        }
    }
}

impl From<Ruling> for Verdict {
    fn from(ruling: Ruling) -> Self {
        Verdict {
            ruling,
            rewrites: Vec::new(),
        }
    }
}

impl Description {
    /// A description wanting no capabilities and publishing no schema.
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Description {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            capabilities: Vec::new(),
            config_schema: None,
        }
    }

    /// Declare the capabilities the module uses: `log`, `state`, `lists`,
    /// `raw-json`.
    pub fn capabilities<'a>(mut self, caps: impl IntoIterator<Item = &'a str>) -> Self {
        self.capabilities = caps.into_iter().map(str::to_owned).collect();
        self
    }

    /// Publish a JSON Schema for the module's configuration.
    pub fn config_schema(mut self, schema: &str) -> Self {
        self.config_schema = Some(schema.to_owned());
        self
    }

    /// Whether the module declared `capability`.
    pub fn wants(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}
