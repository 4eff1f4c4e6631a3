use super::*;
use std::fs;
use tempfile::TempDir;

static AWS_CREDENTIALS: SectionSpec = SectionSpec {
    path: &["credentials"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("aws_access_key_id", ValueKind::String, "access key id"),
        KeySpec::secret("aws_secret_access_key", ValueKind::String, "secret key"),
        KeySpec::new("endpoint_url", ValueKind::String, "endpoint"),
    ],
    children: &[],
};
static FILESYSTEM: SectionSpec = SectionSpec {
    path: &["destination", "filesystem"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("bucket_url", ValueKind::String, "bucket url"),
        KeySpec::new("layout", ValueKind::String, "file layout"),
        KeySpec::new("extra_placeholders", ValueKind::Table, "layout placeholders"),
        KeySpec::new("dataset_name", ValueKind::String, "dataset"),
    ],
    children: &[&AWS_CREDENTIALS],
};
static PG_CREDENTIALS: SectionSpec = SectionSpec {
    path: &["credentials"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("database", ValueKind::String, "database"),
        KeySpec::new("username", ValueKind::String, "user"),
        KeySpec::secret("password", ValueKind::String, "password"),
        KeySpec::new("host", ValueKind::String, "host"),
        KeySpec::new("port", ValueKind::Integer, "port"),
    ],
    children: &[],
};
static POSTGRES: SectionSpec = SectionSpec {
    path: &["destination", "postgres"],
    alt_paths: &[],
    keys: &[KeySpec::new("dataset_name", ValueKind::String, "dataset")],
    children: &[&PG_CREDENTIALS],
};
static DATA_WRITER: SectionSpec = SectionSpec {
    path: &["normalize", "data_writer"],
    alt_paths: &[&["data_writer"]],
    keys: &[
        KeySpec::new("buffer_max_items", ValueKind::Integer, "buffer"),
        KeySpec::new("file_max_items", ValueKind::Integer, "rotate files"),
        KeySpec::new("disable_compression", ValueKind::Bool, "no gzip"),
    ],
    children: &[],
};
static LOAD: SectionSpec = SectionSpec {
    path: &["load"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("workers", ValueKind::Integer, "parallel jobs"),
        KeySpec::new("raise_on_failed_jobs", ValueKind::Bool, "raise"),
        KeySpec::new("truncate_staging_dataset", ValueKind::Bool, "truncate"),
    ],
    children: &[],
};
static NORMALIZE: SectionSpec =
    SectionSpec { path: &["normalize"], alt_paths: &[], keys: &[KeySpec::new("workers", ValueKind::Integer, "workers")], children: &[] };
const ALL: &[&SectionSpec] = &[&FILESYSTEM, &POSTGRES, &DATA_WRITER, &LOAD, &NORMALIZE];
const FS: &[&[&str]] = &[&["destination", "filesystem"]];
const DW: &[&[&str]] = &[&["normalize", "data_writer"], &["data_writer"]];

/// A project dir with files at relative paths.
fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn load(files: &[(&str, &str)], vars: &[(&str, &str)]) -> (TempDir, Config) {
    let dir = project(files);
    let cfg = Config::load(dir.path(), &env(vars)).unwrap();
    (dir, cfg)
}

fn str_of(cfg: &Config, paths: &[&[&str]], key: &str) -> Option<String> {
    cfg.get_str(paths, key).unwrap()
}

fn problems(cfg: &Config) -> Vec<Problem> {
    match cfg.validate(ALL) {
        Ok(()) => Vec::new(),
        Err(ConfigError::Invalid { problems }) => problems,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn layer_precedence_defaults_config_secrets_env_explicit() {
    let (dir, mut cfg) = load(
        &[
            (".stevedore/config.toml", "[load]\na = 'config'\nb = 'config'\nc = 'config'\nd = 'config'\n"),
            (".stevedore/secrets.toml", "[load]\na = 'secrets'\nb = 'secrets'\nc = 'secrets'\n"),
        ],
        &[("LOAD__A", "env"), ("LOAD__B", "env")],
    );
    for key in ["a", "b", "c", "d", "e"] {
        cfg.set_default(&format!("load.{key}"), toml::Value::String("default".into()));
    }
    cfg.set_explicit("load.a", toml::Value::String("explicit".into()));
    let l: &[&[&str]] = &[&["load"]];
    assert_eq!(str_of(&cfg, l, "a").as_deref(), Some("explicit"));
    assert_eq!(str_of(&cfg, l, "b").as_deref(), Some("env"));
    assert_eq!(str_of(&cfg, l, "c").as_deref(), Some("secrets"));
    assert_eq!(str_of(&cfg, l, "d").as_deref(), Some("config"));
    assert_eq!(str_of(&cfg, l, "e").as_deref(), Some("default"));
    assert_eq!(cfg.get(l, "a").unwrap().source, Source::Explicit);
    assert_eq!(cfg.get(l, "b").unwrap().source, Source::Env { var: "LOAD__B".into() });
    let config_toml = dir.path().join(".stevedore/config.toml");
    assert_eq!(cfg.get(l, "d").unwrap().source, Source::File { path: config_toml.clone(), line: Some(5) });
    assert_eq!(cfg.get(l, "e").unwrap().source, Source::Default);
    assert_eq!(cfg.files(), vec![config_toml, dir.path().join(".stevedore/secrets.toml")]);
    assert!(cfg.get(l, "missing").is_none());
}

#[test]
fn dlt_folder_is_read_only_when_stevedore_folder_is_absent() {
    let (dir, cfg) = load(&[(".dlt/config.toml", "[destination.filesystem]\nbucket_url = 'dlt'\n"), (".dlt/secrets.toml", "x = 1\n")], &[]);
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("dlt"));
    assert_eq!(cfg.files().len(), 2);
    assert_eq!(cfg.config_dir(), Some(dir.path().join(".dlt").as_path()));

    let (dir, cfg) = load(
        &[
            (".dlt/config.toml", "[destination.filesystem]\nbucket_url = 'dlt'\n"),
            (".stevedore/secrets.toml", "[destination.filesystem]\nlayout = 'sd'\n"),
        ],
        &[],
    );
    assert_eq!(str_of(&cfg, FS, "bucket_url"), None, ".dlt must be ignored when .stevedore exists");
    assert_eq!(str_of(&cfg, FS, "layout").as_deref(), Some("sd"));
    assert_eq!(cfg.files(), vec![dir.path().join(".stevedore/secrets.toml")]);

    let (_dir, cfg) = load(&[], &[]);
    assert!(cfg.files().is_empty());
    assert!(cfg.config_dir().is_none());
}

#[test]
fn config_dir_and_project_dir_variables() {
    let dir = project(&[("elsewhere/config.toml", "[load]\nworkers = 7\n"), ("proj/.stevedore/config.toml", "[load]\nworkers = 3\n")]);
    let cfg = Config::load(dir.path(), &env(&[(ENV_CONFIG_DIR, "elsewhere")])).unwrap();
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(7));
    let abs = dir.path().join("elsewhere").display().to_string();
    let cfg = Config::load(Path::new("/nonexistent"), &env(&[(ENV_CONFIG_DIR, &abs)])).unwrap();
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(7));

    let cfg = Config::discover(dir.path(), &env(&[(ENV_PROJECT_DIR, "proj")])).unwrap();
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(3));
    let cfg = Config::discover(&dir.path().join("proj"), &env(&[])).unwrap();
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(3));

    let err = Config::load(dir.path(), &env(&[(ENV_CONFIG_DIR, "nope")])).unwrap_err();
    assert!(matches!(err, ConfigError::ConfigDirMissing { .. }));
    assert!(err.to_string().contains("nope") && err.to_string().contains(ENV_CONFIG_DIR));
}

#[test]
fn section_fallback_to_parent_and_root() {
    let (_d, cfg) = load(&[(".stevedore/config.toml", "dataset_name = 'root'\n[destination]\nbucket_url = 'file:///generic'\n")], &[]);
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("file:///generic"));
    assert_eq!(cfg.get(FS, "bucket_url").unwrap().key, "destination.bucket_url");
    assert_eq!(str_of(&cfg, FS, "dataset_name").as_deref(), Some("root"));

    let (_d, cfg) = load(
        &[(
            ".stevedore/config.toml",
            "[destination]\nbucket_url = 'file:///generic'\n[destination.filesystem]\nbucket_url = 's3://specific'\n",
        )],
        &[],
    );
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("s3://specific"));
    // another destination still sees the generic value
    assert_eq!(str_of(&cfg, &[&["destination", "other"]], "bucket_url").as_deref(), Some("file:///generic"));
}

#[test]
fn pipeline_name_prefix_wins() {
    let files = [(
        ".stevedore/config.toml",
        "[destination.filesystem]\nbucket_url = 'generic'\n[mypipe.destination.filesystem]\nbucket_url = 'mine'\n",
    )];
    let vars = [("DESTINATION__FILESYSTEM__BUCKET_URL", "from-env")];
    let (_d, cfg) = load(&files, &vars);
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("from-env"));
    let cfg = cfg.with_pipeline_name("mypipe");
    assert_eq!(cfg.pipeline_name(), Some("mypipe"));
    // like dlt: a pipeline-specific value in any layer beats generic ones in all layers
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("mine"));
    assert_eq!(cfg.get(FS, "bucket_url").unwrap().key, "mypipe.destination.filesystem.bucket_url");
    let cfg = cfg.with_pipeline_name("other");
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("from-env"));

    let (_d, cfg) = load(&files, &[("MYPIPE__DESTINATION__FILESYSTEM__BUCKET_URL", "env-mine")]);
    let cfg = cfg.with_pipeline_name("mypipe");
    assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("env-mine"));
}

#[test]
fn env_values_are_parsed_as_toml_or_json_literals() {
    assert_eq!(parse_env_value("true"), toml::Value::Boolean(true));
    assert_eq!(parse_env_value("false"), toml::Value::Boolean(false));
    assert_eq!(parse_env_value("42"), toml::Value::Integer(42));
    assert_eq!(parse_env_value("1.5"), toml::Value::Float(1.5));
    assert_eq!(parse_env_value("[1, 2]"), toml::Value::Array(vec![1.into(), 2.into()]));
    let t = parse_env_value("{a = 1, b = 'x'}");
    assert_eq!(t.get("a"), Some(&toml::Value::Integer(1)));
    assert_eq!(t.get("b"), Some(&toml::Value::String("x".into())));
    let j = parse_env_value(r#"{"a": 1, "b": {"c": "d"}, "n": null}"#);
    assert_eq!(j.get("a"), Some(&toml::Value::Integer(1)));
    assert_eq!(j.get("b").and_then(|b| b.get("c")), Some(&toml::Value::String("d".into())));
    assert!(j.get("n").is_none());
    for s in ["s3://bucket/path", "nan", "inf", "2024-01-01", "'quoted'", " 5 ", "", "True"] {
        assert_eq!(parse_env_value(s), toml::Value::String(s.into()), "{s:?}");
    }

    let (_d, cfg) = load(
        &[],
        &[
            ("DATA_WRITER__DISABLE_COMPRESSION", "true"),
            ("LOAD__WORKERS", "8"),
            ("LOAD__RAISE_ON_FAILED_JOBS", "False"),
            ("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS", "{env = 'prod', n = 2}"),
            ("DESTINATION__FILESYSTEM__LAYOUT", r#"{"json": true}"#),
            ("DESTINATION__FILESYSTEM__DATASET_NAME", "123"),
            ("LOAD__RATIO", "2"),
        ],
    );
    assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(8));
    assert_eq!(cfg.get_bool(&[&["load"]], "raise_on_failed_jobs").unwrap(), Some(false));
    assert_eq!(cfg.get_f64(&[&["load"]], "ratio").unwrap(), Some(2.0));
    let t = cfg.get_table(FS, "extra_placeholders").unwrap().unwrap();
    assert_eq!(t.get("env"), Some(&toml::Value::String("prod".into())));
    assert_eq!(t.get("n"), Some(&toml::Value::Integer(2)));
    assert!(cfg.get(FS, "layout").unwrap().value.is_table());
    // strings from the environment are the variable's text, even when they look like numbers
    assert_eq!(str_of(&cfg, FS, "dataset_name").as_deref(), Some("123"));
    assert_eq!(str_of(&cfg, FS, "layout").as_deref(), Some(r#"{"json": true}"#));
}

#[test]
fn data_writer_both_section_forms() {
    let (_d, cfg) = load(&[(".stevedore/config.toml", "[data_writer]\nbuffer_max_items = 100\nfile_max_items = 5\n")], &[]);
    assert_eq!(cfg.get_u64(DW, "buffer_max_items").unwrap(), Some(100));

    let (_d, cfg) = load(
        &[(
            ".stevedore/config.toml",
            "[data_writer]\nbuffer_max_items = 100\nfile_max_items = 5\n\
             [normalize.data_writer]\nbuffer_max_items = 200\n",
        )],
        &[],
    );
    assert_eq!(cfg.get_u64(DW, "buffer_max_items").unwrap(), Some(200));
    assert_eq!(cfg.get_u64(DW, "file_max_items").unwrap(), Some(5));
    let r = cfg.resolve(&DATA_WRITER).unwrap();
    assert_eq!(r.get("buffer_max_items").unwrap().expose().value, toml::Value::Integer(200));
    assert_eq!(r.get("file_max_items").unwrap().expose().key, "data_writer.file_max_items");
    assert!(cfg.validate(ALL).is_ok());

    let (_d, cfg) = load(&[], &[("DATA_WRITER__DISABLE_COMPRESSION", "false"), ("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true")]);
    assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
    let (_d, cfg) = load(&[], &[("DATA_WRITER__DISABLE_COMPRESSION", "true")]);
    assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
    let r = cfg.resolve(&DATA_WRITER).unwrap();
    assert_eq!(r.get("disable_compression").unwrap().expose().value, toml::Value::Boolean(true));
}

#[test]
fn unknown_key_error_names_file_line_key_and_suggestion() {
    let (dir, cfg) = load(&[(".stevedore/config.toml", "[destination.filesystem]\nlayout = 'x'\nbucket_ur = 's3://b'\n")], &[]);
    let err = cfg.validate(ALL).unwrap_err();
    let msg = err.to_string();
    let file = dir.path().join(".stevedore/config.toml");
    assert!(msg.contains(&format!("{}:3", file.display())), "{msg}");
    assert!(msg.contains("`bucket_ur`"), "{msg}");
    assert!(msg.contains("[destination.filesystem]"), "{msg}");
    assert!(msg.contains("did you mean `bucket_url`?"), "{msg}");
    assert!(msg.contains("valid keys: bucket_url, layout, extra_placeholders, dataset_name, credentials"), "{msg}");
    let ConfigError::Invalid { problems: found } = err else { panic!() };
    assert_eq!(found.len(), 1);
    assert!(matches!(&found[0], Problem::UnknownKey { suggestion: Some(s), .. } if s == "bucket_url"));

    // nested child section and a typo in a child name
    let (_d, cfg) = load(
        &[(
            ".stevedore/secrets.toml",
            "[destination.filesystem.credentials]\naws_acess_key_id = 'a'\n[destination.filesystem.credentals]\nx = 1\n",
        )],
        &[],
    );
    let p = problems(&cfg);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p.iter().any(
        |p| matches!(p, Problem::UnknownKey { key, suggestion: Some(s), .. } if key == "aws_acess_key_id" && s == "aws_access_key_id")
    ));
    assert!(
        p.iter().any(|p| matches!(p, Problem::UnknownKey { key, suggestion: Some(s), .. } if key == "credentals" && s == "credentials"))
    );
}

#[test]
fn validation_accepts_fallbacks_sources_and_unregistered_sections() {
    let (_d, cfg) = load(
        &[
            (
                ".stevedore/config.toml",
                "api_key_for_my_source = 1\n\
             [sources.chess]\nanything = 1\n\
             [runtime]\nlog_level = 'INFO'\n\
             [destination]\nbucket_url = 'x'\nreplace_strategy = 'insert-from-staging'\n\
             [destination.bigquery]\nlocation = 'EU'\n\
             [destination.filesystem]\naws_access_key_id = 'fallback for credentials'\n\
             [normalize]\nworkers = 2\nbuffer_max_items = 10\n\
             [pipelines.x]\ny = 1\n",
            ),
            (".stevedore/secrets.toml", "[destination.postgres]\ncredentials = 'postgresql://u:p@h/db'\n"),
        ],
        &[("PATH", "/bin"), ("HOME", "/root"), ("FOO__BAR", "1"), ("RUNTIME__LOG_LEVEL", "x"), ("DESTINATION__DUCKDB__CREDENTIALS", "x")],
    );
    assert_eq!(problems(&cfg), Vec::new());
    // a likely typo directly under [destination] is still reported
    let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination]\nbuckt_url = 'x'\n")], &[]);
    let p = problems(&cfg);
    assert!(matches!(&p[..], [Problem::UnknownKey { suggestion: Some(s), .. }] if s == "bucket_url"), "{p:?}");
}

#[test]
fn unknown_env_var_under_known_section() {
    let (_d, cfg) = load(
        &[],
        &[
            ("DESTINATION__FILESYSTEM__BUKET_URL", "s3://x"),
            ("DESTINATION__FILESYSTEM__BUCKET_URL", "s3://ok"),
            ("LOAD__WORKRS", "3"),
            ("LOAD__WORKERS", "3"),
            ("PATH", "/usr/bin"),
        ],
    );
    let err = cfg.validate(ALL).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("2 configuration problems"), "{msg}");
    assert!(msg.contains("environment variable DESTINATION__FILESYSTEM__BUKET_URL"), "{msg}");
    assert!(msg.contains("did you mean `bucket_url`?"), "{msg}");
    assert!(msg.contains("environment variable LOAD__WORKRS"), "{msg}");
    assert!(msg.contains("did you mean `workers`?"), "{msg}");
    assert!(!msg.contains("s3://x"), "values are not printed: {msg}");
}

#[test]
fn unknown_top_level_section_and_pipeline_prefix_validation() {
    let (_d, cfg) = load(
        &[(
            ".stevedore/config.toml",
            "[destinaton.filesystem]\nbucket_url = 'x'\n\
             [mypipe.destination.filesystem]\nbucket_ur = 'y'\n\
             [mypipe.load]\nworkers = 4\n",
        )],
        &[],
    );
    let p = problems(&cfg);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p.iter().any(|p| matches!(p, Problem::UnknownSection { name, suggestion: Some(s), origin: Source::File { line: Some(1), .. } } if name == "destinaton" && s == "destination")));
    assert!(p.iter().any(|p| matches!(p, Problem::UnknownKey { section, key, origin: Source::File { line: Some(4), .. }, .. } if section == "mypipe.destination.filesystem" && key == "bucket_ur")));
    let msg = cfg.validate(ALL).unwrap_err().to_string();
    assert!(msg.contains("did you mean [destination]?"), "{msg}");

    // pipeline-prefixed environment variables are validated once the name is known
    let (_d, cfg) = load(&[], &[("MYPIPE__LOAD__WORKRS", "3")]);
    assert!(cfg.validate(ALL).is_ok());
    let cfg = cfg.with_pipeline_name("mypipe");
    let p = problems(&cfg);
    assert!(matches!(&p[..], [Problem::UnknownKey { section, .. }] if section == "mypipe.load"), "{p:?}");
}

#[test]
fn validation_checks_value_types() {
    let (_d, cfg) = load(
        &[(".stevedore/config.toml", "[load]\nworkers = 'many'\nraise_on_failed_jobs = 'true'\n[destination.postgres]\ncredentials = 5\n")],
        &[("DATA_WRITER__BUFFER_MAX_ITEMS", "lots"), ("NORMALIZE__WORKERS", "4"), ("DESTINATION__FILESYSTEM__DATASET_NAME", "123")],
    );
    let p = problems(&cfg);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p.iter().any(|p| matches!(p, Problem::WrongType { key, expected: "an integer", .. } if key == "load.workers")));
    assert!(
        p.iter().any(|p| matches!(p, Problem::WrongType { key, origin: Source::Env { .. }, .. } if key == "data_writer.buffer_max_items"))
    );
    assert!(p.iter().any(|p| matches!(p, Problem::WrongType { key, .. } if key == "destination.postgres.credentials")));
}

#[test]
fn secrets_are_redacted_in_debug_display_and_errors() {
    let (_d, mut cfg) = load(
        &[
            (".stevedore/config.toml", "[destination.postgres.credentials]\ndatabase = 'db'\nusername = 'loader'\n"),
            (".stevedore/secrets.toml", "[destination.postgres.credentials]\npassword = 'hunter2-very-secret'\n"),
        ],
        &[("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY", "AKIA-env-secret")],
    );
    cfg.set_explicit("load.workers", toml::Value::Integer(1));
    let pg = cfg.resolve(&POSTGRES).unwrap();
    let creds = pg.child("credentials").unwrap();
    let pw = creds.get("password").unwrap();
    assert!(pw.is_secret());
    assert_eq!(pw.as_str(), Some("hunter2-very-secret"));
    assert_eq!(creds.get("username").unwrap().as_str(), Some("loader"));
    let debug = format!("{pg:?} {pg:#?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("loader"));
    let fs = cfg.resolve(&FILESYSTEM).unwrap();
    let debug = format!("{fs:?}");
    assert!(!debug.contains("AKIA-env-secret"), "{debug}");
    let config_debug = format!("{cfg:?} {cfg:#?}");
    assert!(!config_debug.contains("hunter2") && !config_debug.contains("AKIA"), "{config_debug}");
    assert!(config_debug.contains("destination.postgres.credentials.password"));

    let secret = Secret::new("hunter2".to_string());
    assert_eq!(format!("{secret} {secret:?}"), "*** ***");
    assert_eq!(secret.expose(), "hunter2");
    let s = cfg.get_secret_str(&[&["destination", "postgres", "credentials"]], "password").unwrap().unwrap();
    assert_eq!(format!("{s:?}"), "***");
    assert_eq!(s.into_inner(), "hunter2-very-secret");

    let mut secrets = pg.secret_values();
    secrets.extend(fs.secret_values());
    assert_eq!(secrets, vec!["hunter2-very-secret".to_string(), "AKIA-env-secret".to_string()]);
    let text = "connect postgresql://loader:hunter2-very-secret@host failed; key AKIA-env-secret";
    assert_eq!(redact(text, &secrets), "connect postgresql://loader:***@host failed; key ***");

    // a type error on a secret never shows the value
    let (_d, cfg) = load(&[(".stevedore/secrets.toml", "[destination.postgres.credentials]\npassword = 987654321\n")], &[]);
    let err = cfg.resolve(&POSTGRES).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("destination.postgres.credentials.password") && msg.contains("secrets.toml:2"), "{msg}");
    assert!(!msg.contains("987654321") && !format!("{err:?}").contains("987654321"), "{msg}");
}

#[test]
fn secret_in_config_toml_is_refused() {
    let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination.postgres.credentials]\npassword = 'leaked-pw'\n")], &[]);
    let err = cfg.resolve(&POSTGRES).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::SecretInConfigFile { .. }));
    assert!(msg.contains("config.toml:2") && msg.contains("DESTINATION__POSTGRES__CREDENTIALS__PASSWORD"), "{msg}");
    assert!(!msg.contains("leaked-pw"));
    assert!(cfg.get_secret_str(&[&["destination", "postgres", "credentials"]], "password").is_err());
    let p = problems(&cfg);
    assert!(matches!(&p[..], [Problem::SecretInConfigFile { key, .. }] if key == "destination.postgres.credentials.password"), "{p:?}");
    assert!(!cfg.validate(ALL).unwrap_err().to_string().contains("leaked-pw"));
}

#[test]
fn native_credentials_string_from_env_or_file() {
    let url = "postgresql://loader:p%40ss@localhost:5432/db";
    let (_d, cfg) = load(&[], &[("DESTINATION__POSTGRES__CREDENTIALS", url), ("DESTINATION__POSTGRES__CREDENTIALS__HOST", "h2")]);
    let pg = cfg.resolve(&POSTGRES).unwrap();
    let creds = pg.child("credentials").unwrap();
    let native = creds.native.as_ref().unwrap();
    assert!(native.is_secret());
    assert_eq!(native.as_str(), Some(url));
    assert_eq!(creds.get("host").unwrap().as_str(), Some("h2"));
    assert!(!format!("{pg:?}").contains("p%40ss"));
    assert_eq!(cfg.get_str(&[&["destination", "postgres"]], "credentials").unwrap().as_deref(), Some(url));
    assert!(cfg.validate(ALL).is_ok());
    let (_d, cfg2) = load(&[], &[("DESTINATION__POSTGRES__CREDENTIALS", "12345")]);
    assert!(cfg2.validate(ALL).is_ok());
    let native = cfg2.resolve(&POSTGRES).unwrap().children["credentials"].native.clone();
    assert_eq!(native.unwrap().as_str(), Some("12345"));
    // the password as a plain secret is found in its percent-encoded URL form too
    assert_eq!(redact(url, &["p@ss"]), "postgresql://loader:***@localhost:5432/db");
    assert_eq!(redact_url_password(url), "postgresql://loader:***@localhost:5432/db");
    assert_eq!(redact_url_password("s3://bucket/path"), "s3://bucket/path");
    assert_eq!(redact_url_password("s3://key@bucket/a:b@c"), "s3://key@bucket/a:b@c");

    let (_d, cfg) = load(&[(".stevedore/secrets.toml", "[destination.postgres]\ncredentials = 'postgresql://a:b@h/db'\n")], &[]);
    let pg = cfg.resolve(&POSTGRES).unwrap();
    assert_eq!(pg.child("credentials").unwrap().native.as_ref().unwrap().as_str(), Some("postgresql://a:b@h/db"));
}

#[test]
fn credentials_table_resolved_key_by_key_over_layers() {
    let (_d, cfg) = load(
        &[(
            ".stevedore/secrets.toml",
            "[destination.filesystem.credentials]\naws_access_key_id = 'file-id'\naws_secret_access_key = 'file-secret'\n",
        )],
        &[("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID", "env-id"), ("DESTINATION__FILESYSTEM__BUCKET_URL", "s3://b")],
    );
    let fs = cfg.resolve(&FILESYSTEM).unwrap();
    assert_eq!(fs.get("bucket_url").unwrap().as_str(), Some("s3://b"));
    let c = fs.child("credentials").unwrap();
    assert_eq!(c.path, vec!["destination", "filesystem", "credentials"]);
    assert_eq!(c.get("aws_access_key_id").unwrap().as_str(), Some("env-id"));
    assert_eq!(c.get("aws_secret_access_key").unwrap().as_str(), Some("file-secret"));
    assert!(c.native.is_none());
    assert!(c.get("endpoint_url").is_none());
}

#[test]
fn malformed_toml_error_names_file_and_line() {
    let dir = project(&[(".stevedore/secrets.toml", "[load]\nworkers = 3\npassword = \"unterminated-secret\n")]);
    let err = Config::load(dir.path(), &env(&[])).unwrap_err();
    let msg = err.to_string();
    let file = dir.path().join(".stevedore/secrets.toml");
    assert!(matches!(err, ConfigError::Parse { line: 3, .. }), "{err:?}");
    assert!(msg.contains(&format!("{}:3:", file.display())), "{msg}");
    assert!(msg.contains("invalid TOML"), "{msg}");
    assert!(!msg.contains("unterminated-secret"), "{msg}");
}

#[test]
fn section_table_merges_all_layers() {
    let (_d, mut cfg) = load(
        &[(".stevedore/config.toml", "[destination.filesystem.extra_placeholders]\na = 'config'\nb = 'config'\n")],
        &[("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS__B", "env"), ("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS__N", "3")],
    );
    cfg.set_default("destination.filesystem.extra_placeholders.d", "default".into());
    cfg.set_explicit("destination.filesystem.extra_placeholders.e", "explicit".into());
    let t = cfg.section_table(&["destination", "filesystem", "extra_placeholders"]);
    assert_eq!(t.get("a"), Some(&toml::Value::String("config".into())));
    assert_eq!(t.get("b"), Some(&toml::Value::String("env".into())));
    assert_eq!(t.get("n"), Some(&toml::Value::Integer(3)));
    assert_eq!(t.get("d"), Some(&toml::Value::String("default".into())));
    assert_eq!(t.get("e"), Some(&toml::Value::String("explicit".into())));
    let fs = cfg.section_table(&["destination", "filesystem"]);
    assert!(fs.get("extra_placeholders").unwrap().get("n").is_some());
    let cfg = cfg.with_pipeline_name("p");
    assert_eq!(cfg.section_table(&["destination", "filesystem", "extra_placeholders"]).len(), 5);
}

#[test]
fn typed_getters_name_key_and_source_on_mismatch() {
    let (dir, cfg) =
        load(&[(".stevedore/config.toml", "[load]\n\nworkers = 'many'\nneg = -1\n")], &[("DATA_WRITER__BUFFER_MAX_ITEMS", "lots")]);
    let msg = cfg.get_u64(&[&["load"]], "workers").unwrap_err().to_string();
    let file = dir.path().join(".stevedore/config.toml");
    assert!(msg.contains("`load.workers`") && msg.contains(&format!("{}:3", file.display())), "{msg}");
    assert!(msg.contains("must be an integer, found a string"), "{msg}");
    let msg = cfg.get_u64(DW, "buffer_max_items").unwrap_err().to_string();
    assert!(msg.contains("environment variable DATA_WRITER__BUFFER_MAX_ITEMS"), "{msg}");
    let msg = cfg.get_u64(&[&["load"]], "neg").unwrap_err().to_string();
    assert!(msg.contains("non-negative"), "{msg}");
    assert_eq!(cfg.get_i64(&[&["load"]], "neg").unwrap(), Some(-1));
    assert!(cfg.get_bool(&[&["load"]], "workers").is_err());
    assert!(cfg.get_str(&[&["load"]], "neg").is_err());
}

#[test]
fn require_lists_every_key_and_variable_tried() {
    let cfg = Config::empty().with_pipeline_name("p");
    let err = cfg.require(FS, "bucket_url").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("p.destination.filesystem.bucket_url, p.destination.bucket_url, p.bucket_url, destination.filesystem.bucket_url, destination.bucket_url, bucket_url"), "{msg}");
    assert!(msg.contains("DESTINATION__FILESYSTEM__BUCKET_URL") && msg.contains("P__DESTINATION__FILESYSTEM__BUCKET_URL"), "{msg}");
    let mut cfg = cfg;
    cfg.set_explicit("destination.filesystem.bucket_url", "file:///x".into());
    assert_eq!(cfg.require(FS, "bucket_url").unwrap().value.as_str(), Some("file:///x"));
}

#[test]
fn explicit_and_default_values_and_dotted_paths() {
    let mut cfg = Config::empty();
    assert!(cfg.files().is_empty());
    cfg.set_default("load.workers", 20.into());
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(20));
    cfg.set_explicit("load.workers", 4.into());
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(4));
    // replacing a scalar by a deeper path turns it into a table
    cfg.set_explicit("load", 1.into());
    cfg.set_explicit("load.workers", 5.into());
    assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(5));
    assert_eq!(env_var_name(&["normalize", "data_writer", "file_max_items"]), "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS");
}

#[test]
fn edit_distance_and_suggestions() {
    assert_eq!(edit_distance("bucket_url", "bucket_url"), 0);
    assert_eq!(edit_distance("bukcet_url", "bucket_url"), 1);
    assert_eq!(edit_distance("bucket_ur", "bucket_url"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(suggest("workrs", ["workers", "layout"]).as_deref(), Some("workers"));
    assert_eq!(suggest("zzz", ["workers", "layout"]), None);
    assert_eq!(suggest("a", ["b"]), None);
}

crate::config_section! {
    /// A typed section for the tests.
    pub(super) static TYPED_SPEC = ["destination", "typed"], alt [["typed"]], children [&AWS_CREDENTIALS];
    /// Resolved typed settings.
    #[derive(Debug)]
    pub(super) struct TypedConfig {
        #[filled]
        /// built by the consumer
        pub(super) built: Vec<String>,
        /// where the files go
        pub(super) bucket_url: String = "./data".into() => "`./data`",
        /// parallel jobs
        pub(super) pool_size: usize = 4 => "4",
        /// the password
        pub(super) password: Option<Secret<String>> = None,
        /// seconds for one request
        pub(super) http_timeout: std::time::Duration = std::time::Duration::from_secs(15) => "15",
        /// how replace works
        pub(super) replace_strategy: Option<crate::schema::ReplaceStrategy> = None,
        /// names, comma separated
        pub(super) names: Vec<String> = Vec::new(); read String => comma_list,
    }
}

fn comma_list(s: String) -> crate::Result<Vec<String>> {
    Ok(s.split(',').map(String::from).collect())
}

#[test]
fn a_typed_section_is_its_spec_its_defaults_and_its_reader() {
    // the spec: one key per field (filled fields are not keys), kinds and secrets from the
    // types, meanings from the doc lines, the reference's defaults after `=>`
    let keys: Vec<(&str, ValueKind, bool, &str, &str)> =
        TYPED_SPEC.keys.iter().map(|k| (k.name, k.kind, k.secret, k.doc, k.default)).collect();
    assert_eq!(
        keys,
        vec![
            ("bucket_url", ValueKind::String, false, "where the files go", "`./data`"),
            ("pool_size", ValueKind::Integer, false, "parallel jobs", "4"),
            ("password", ValueKind::String, true, "the password", ""),
            ("http_timeout", ValueKind::Float, false, "seconds for one request", "15"),
            ("replace_strategy", ValueKind::String, false, "how replace works", ""),
            ("names", ValueKind::String, false, "names, comma separated", ""),
        ]
    );
    assert_eq!(TYPED_SPEC.lookup_paths(), vec![&["destination", "typed"][..], &["typed"][..]]);
    assert_eq!(TYPED_SPEC.children.len(), 1);

    // defaults when nothing is set
    let (_d, cfg) = load(&[], &[]);
    let c = TypedConfig::read(&cfg).unwrap();
    assert_eq!((c.bucket_url.as_str(), c.pool_size, c.http_timeout.as_secs(), c.built.len()), ("./data", 4, 15, 0));
    assert!(c.password.is_none() && c.replace_strategy.is_none() && c.names.is_empty());

    // values from files and the environment, with the alternative path and the usual precedence
    let (_d, cfg) = load(
        &[
            (".stevedore/config.toml", "[typed]\npool_size = 7\nnames = 'a,b'\n[destination.typed]\nhttp_timeout = 2.5\n"),
            (".stevedore/secrets.toml", "[destination.typed]\npassword = 'pw-from-secrets'\n"),
        ],
        &[("DESTINATION__TYPED__BUCKET_URL", "s3://b/p"), ("DESTINATION__TYPED__REPLACE_STRATEGY", "staging-optimized")],
    );
    let c = TypedConfig::read(&cfg).unwrap();
    assert_eq!((c.bucket_url.as_str(), c.pool_size, c.http_timeout.as_millis()), ("s3://b/p", 7, 2500));
    assert_eq!(c.password.as_ref().map(|p| p.expose().as_str()), Some("pw-from-secrets"));
    assert_eq!(c.replace_strategy, Some(crate::schema::ReplaceStrategy::StagingOptimized));
    assert_eq!(c.names, vec!["a".to_string(), "b".to_string()]);
    assert!(!format!("{c:?}").contains("pw-from-secrets"));

    // errors are the getters' errors: where, what is expected, never the value
    let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination.typed]\npool_size = 'many'\n")], &[]);
    let e = TypedConfig::read(&cfg).unwrap_err().to_string();
    assert!(e.contains("destination.typed.pool_size") && e.contains("config.toml:2") && e.contains("an integer"), "{e}");
    assert!(!e.contains("many"), "{e}");
    let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination.typed]\npassword = 'leaked-pw'\n")], &[]);
    let e = TypedConfig::read(&cfg).unwrap_err().to_string();
    assert!(e.contains("DESTINATION__TYPED__PASSWORD") && !e.contains("leaked-pw"), "{e}");
    let (_d, cfg) = load(&[], &[("DESTINATION__TYPED__HTTP_TIMEOUT", "-1")]);
    let e = TypedConfig::read(&cfg).unwrap_err().to_string();
    assert!(e.contains("[destination.typed] http_timeout = -1 is not a positive number of seconds"), "{e}");
    let (_d, cfg) = load(&[], &[("DESTINATION__TYPED__REPLACE_STRATEGY", "swap")]);
    let e = TypedConfig::read(&cfg).unwrap_err().to_string();
    assert!(e.contains("unknown ReplaceStrategy `swap`"), "{e}");
}
