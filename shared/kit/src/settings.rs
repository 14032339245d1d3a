//! Layered settings: an optional TOML file, then environment variables
//! `APP_<SECTION>__<KEY>` (double underscore between levels), the later layer winning.
//! A missing or invalid setting stops start-up with an error naming the key.

use std::path::Path;

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(String);

/// Reads settings of type `T` from `file` (if given, it must exist) and `APP_*`
/// variables of this process.
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> Result<T, SettingsError> {
    load_from(file, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (tests).
pub fn load_from<T: DeserializeOwned>(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    let vars: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("APP_"))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix("APP")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(Some(vars)),
    );
    let config = builder.build().map_err(|e| SettingsError(e.to_string()))?;
    config
        .try_deserialize()
        .map_err(|e| SettingsError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Kv {
        kind: String,
        url: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct S {
        kv: Kv,
        #[serde(default)]
        port: u16,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("kit-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.toml");
        std::fs::write(&file, "port = 80\n[kv]\nkind = \"memory\"\n").unwrap();
        let s: S = load_from(
            Some(&file),
            env(&[("APP_KV__KIND", "redis"), ("APP_KV__URL", "redis://x")]),
        )
        .unwrap();
        assert_eq!(
            s,
            S {
                kv: Kv {
                    kind: "redis".into(),
                    url: Some("redis://x".into())
                },
                port: 80
            }
        );
    }

    #[test]
    fn a_missing_setting_is_named() {
        let err = load_from::<S>(None, env(&[("APP_PORT", "8080")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kv"), "{err}");
        let err = load_from::<S>(
            None,
            env(&[("APP_KV__KIND", "memory"), ("APP_PORT", "eighty")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("port"), "{err}");
    }
}
