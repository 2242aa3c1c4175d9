//! TOML text to the spanned tree, through toml's span-keeping `DeTable`.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{quoted, Bad, Res};
use super::tree::{Entry, Node, Table, Value};

pub(crate) fn parse(text: &str) -> Res<Node> {
    let doc = DeTable::parse(text).map_err(|e| syntax_error(text, &e))?;
    Ok(Node {
        span: doc.span(),
        value: Value::Table(table(doc.get_ref())?),
    })
}

/// Names the offending text when it is short, since toml's messages ("duplicate key") do not.
fn syntax_error(text: &str, e: &toml::de::Error) -> Bad {
    let span = e.span();
    let found = span
        .clone()
        .and_then(|s| text.get(s))
        .filter(|s| !s.trim().is_empty() && !s.contains('\n') && s.chars().count() <= 40);
    let reason = match found {
        Some(found) => format!("TOML syntax error at {}: {}", quoted(found), e.message()),
        None => format!("TOML syntax error: {}", e.message()),
    };
    Bad {
        at: span.map(|s| s.start),
        reason,
        elsewhere: None,
    }
}

fn table(t: &DeTable<'_>) -> Res<Table> {
    let entries = t
        .iter()
        .map(|(key, value)| {
            Ok(Entry {
                key: key.get_ref().to_string(),
                key_span: key.span(),
                value: node(value)?,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(Table::new(entries))
}

fn node(v: &Spanned<DeValue<'_>>) -> Res<Node> {
    let span = v.span();
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => Value::Int(
            i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| Bad::at(span.start, format!("integer {i} is out of range")))?,
        ),
        DeValue::Float(f) => Value::Float(
            f.as_str()
                .parse()
                .map_err(|_| Bad::at(span.start, format!("bad float {f}")))?,
        ),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(node).collect::<Res<_>>()?),
        DeValue::Table(t) => Value::Table(table(t)?),
    };
    Ok(Node { span, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_radix_and_entries_in_reading_order() {
        let node = parse("z = 1_000\nb = 0x1F\na = -5\n").unwrap();
        let Value::Table(t) = node.value else {
            panic!("not a table")
        };
        let keys: Vec<&str> = t.entries().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["z", "b", "a"]);
        let ints: Vec<i64> = t
            .entries()
            .iter()
            .map(|e| match e.value.value {
                Value::Int(i) => i,
                _ => panic!("not an integer"),
            })
            .collect();
        assert_eq!(ints, [1000, 31, -5]);
    }
}
