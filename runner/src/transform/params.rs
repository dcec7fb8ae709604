//! A stage's `[transforms.params]` table as the JSON text `init` receives.

use serde_json::{Map, Number, Value as Json};

/// Converts the TOML table to JSON text. Dates and times become RFC 3339
/// strings; a NaN or infinite float has no JSON form and is an error naming
/// its key.
pub fn params_json(params: &toml::Table) -> Result<String, String> {
    let value = table(params, "")?;
    serde_json::to_string(&value).map_err(|e| e.to_string())
}

fn table(t: &toml::Table, path: &str) -> Result<Json, String> {
    let mut map = Map::new();
    for (key, value) in t {
        let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        map.insert(key.clone(), convert(value, &here)?);
    }
    Ok(Json::Object(map))
}

fn convert(value: &toml::Value, path: &str) -> Result<Json, String> {
    Ok(match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::Number((*i).into()),
        toml::Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => return Err(format!("params.{path} = {f} has no JSON form")),
        },
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(
            items.iter().enumerate().map(|(i, v)| convert(v, &format!("{path}[{i}]"))).collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => table(t, path)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn converts_every_kind() {
        let t: toml::Table = toml::from_str(
            r#"
            event_types = ["FOCUS", "AWAY"]
            local_offset = "+09:00"
            n = 3
            x = 1.5
            on = true
            when = 2026-01-28T10:15:30Z
            [nested]
            a = { b = 1 }
            "#,
        )
        .unwrap();
        let json: Json = serde_json::from_str(&params_json(&t).unwrap()).unwrap();
        assert_eq!(json["event_types"][1], "AWAY");
        assert_eq!(json["n"], 3);
        assert_eq!(json["x"], 1.5);
        assert_eq!(json["on"], true);
        assert_eq!(json["when"], "2026-01-28T10:15:30Z");
        assert_eq!(json["nested"]["a"]["b"], 1);
        assert_eq!(params_json(&toml::Table::new()).unwrap(), "{}");
    }

    #[test]
    fn nan_is_refused_with_its_key() {
        let t: toml::Table = toml::from_str("[a]\nlist = [1.0, nan]").unwrap();
        assert_eq!(params_json(&t).unwrap_err(), "params.a.list[1] = NaN has no JSON form");
    }
}
