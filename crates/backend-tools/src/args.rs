//! Tool arguments: one field list per tool is both the JSON Schema a model
//! sees and the rules the dispatcher checks, so the two cannot drift apart.

use backend_core::{Error, ErrorKind};
use serde_json::{Map, Value, json};

/// The JSON type of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string.
    String,
    /// A whole number, at least `min`.
    Integer {
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// `true` or `false`.
    Boolean,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
}

impl FieldKind {
    /// How the kind is named in an error message.
    fn describe(&self) -> String {
        match self {
            FieldKind::String => "a string".to_owned(),
            FieldKind::Integer { min, max } if *max == u64::MAX => {
                format!("an integer >= {min}")
            }
            FieldKind::Integer { min, max } => format!("an integer from {min} to {max}"),
            FieldKind::Boolean => "a boolean (true or false)".to_owned(),
            FieldKind::Enum(values) => format!("one of {}", quoted_list(values)),
        }
    }
}

/// One argument of a tool.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The argument name.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldKind,
    /// Whether the call must give it.
    pub required: bool,
    /// What it means, for the model.
    pub description: &'static str,
}

impl Field {
    /// A required argument.
    pub const fn required(name: &'static str, kind: FieldKind, description: &'static str) -> Self {
        Field {
            name,
            kind,
            required: true,
            description,
        }
    }

    /// An optional argument.
    pub const fn optional(name: &'static str, kind: FieldKind, description: &'static str) -> Self {
        Field {
            name,
            kind,
            required: false,
            description,
        }
    }
}

/// The JSON Schema (draft 2020-12 subset) for a field list.
pub fn schema(fields: &[Field]) -> Value {
    let mut properties = Map::new();
    for field in fields {
        let mut property = match field.kind {
            FieldKind::String => json!({"type": "string"}),
            FieldKind::Integer { min, max } => {
                let mut p = json!({"type": "integer", "minimum": min});
                if max != u64::MAX {
                    p["maximum"] = json!(max);
                }
                p
            }
            FieldKind::Boolean => json!({"type": "boolean"}),
            FieldKind::Enum(values) => json!({"type": "string", "enum": values}),
        };
        property["description"] = json!(field.description);
        properties.insert(field.name.to_owned(), property);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Arguments that passed validation, with typed accessors.
#[derive(Debug)]
pub struct Args {
    values: Map<String, Value>,
}

/// Checks `arguments` against `fields`: an object (or null for no
/// arguments), no unknown field, every required field present, every field
/// of its type. The error names the tool and the field, and says what was
/// expected.
pub fn validate(tool: &str, fields: &[Field], arguments: &Value) -> Result<Args, Error> {
    let values = match arguments {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        other => {
            return Err(invalid(format!(
                "{tool}: arguments must be a JSON object, got {}",
                json_type(other)
            )));
        }
    };
    if let Some(unknown) = values.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
        let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Err(invalid(format!(
            "{tool}: unknown argument `{unknown}`; the arguments are {}",
            quoted_list(&known)
        )));
    }
    for field in fields {
        match values.get(field.name) {
            None | Some(Value::Null) if field.required => {
                return Err(invalid(format!(
                    "{tool}: missing required argument `{}` ({})",
                    field.name,
                    field.kind.describe()
                )));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_type(tool, field, value)?,
        }
    }
    Ok(Args { values })
}

fn check_type(tool: &str, field: &Field, value: &Value) -> Result<(), Error> {
    let ok = match field.kind {
        FieldKind::String => value.is_string(),
        FieldKind::Boolean => value.is_boolean(),
        FieldKind::Integer { min, max } => value.as_u64().is_some_and(|n| n >= min && n <= max),
        FieldKind::Enum(allowed) => value.as_str().is_some_and(|s| allowed.contains(&s)),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{tool}: argument `{}` must be {}, got {}",
            field.name,
            field.kind.describe(),
            shown(value)
        )))
    }
}

impl Args {
    /// A string argument (validation guarantees the type when present).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }

    /// A required string argument.
    pub fn required_str(&self, name: &str) -> Result<&str, Error> {
        self.str(name)
            .ok_or_else(|| Error::internal(format!("argument `{name}` was not validated")))
    }

    /// An integer argument.
    pub fn usize(&self, name: &str) -> Option<usize> {
        self.values
            .get(name)
            .and_then(Value::as_u64)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// A boolean argument, `false` when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.values
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value's type, and the value itself when short, for error messages.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 40 {
        format!("{} {text}", json_type(value))
    } else {
        json_type(value).to_owned()
    }
}
