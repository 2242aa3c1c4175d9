//! The spanned value tree both plan formats are parsed into, so one walker validates both.

use std::ops::Range;

/// A value and the byte range of its text in the plan.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// JSON only.
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// TOML only, kept as written in RFC 3339 form.
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

/// Entries in the order they appear in the text, so the first error found is the first one a
/// reader meets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

impl Table {
    pub fn new(mut entries: Vec<Entry>) -> Self {
        entries.sort_by_key(|e| e.key_span.start);
        Table { entries }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.entries
            .iter()
            .map(|e| (e.key.clone(), e.value.value.to_json()))
            .collect()
    }
}

impl Value {
    /// The kind of value, as said in "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // JSON has no NaN or infinity; serde_json maps them to null the same way.
            Value::Float(f) => J::from(*f),
            Value::Str(s) | Value::Datetime(s) => J::String(s.clone()),
            Value::Array(items) => J::Array(items.iter().map(|n| n.value.to_json()).collect()),
            Value::Table(t) => J::Object(t.to_json()),
        }
    }
}
