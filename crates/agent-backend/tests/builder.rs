//! Locations and configs parse into the right spec whatever features are on;
//! building gives the backend, or an error naming the missing feature or the
//! bad parameter.

use agent_backend::{BackendSpec, ErrorKind, Provider};

fn parse(location: &str) -> BackendSpec {
    BackendSpec::parse(location).unwrap_or_else(|e| panic!("{location} should parse: {e}"))
}

fn refused(location: &str) -> String {
    let err = BackendSpec::parse(location).expect_err(location);
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{location}: {err}");
    err.message().to_owned()
}

#[test]
fn state_location_parses_with_a_quota() {
    let BackendSpec::State(spec) = parse("state://?quota=64m") else {
        panic!("not state")
    };
    assert_eq!(spec.quota, Some(64 << 20));
    assert!(matches!(parse("state://"), BackendSpec::State(s) if s.quota.is_none()));
}

#[test]
fn file_location_parses_an_absolute_host_path() {
    let BackendSpec::Local(spec) = parse("file:///srv/ws?exec=true") else {
        panic!("not local")
    };
    assert_eq!(spec.root, std::path::Path::new("/srv/ws"));
    assert!(spec.exec);
    assert!(!spec.overlay);
    assert_eq!(parse("file:///srv/ws").required_feature(), "local");
    assert_eq!(spec_feature("file:///srv/ws?exec=1"), "local-exec");
    assert!(refused("file://srv/ws").contains("three slashes"));
}

fn spec_feature(location: &str) -> &'static str {
    parse(location).required_feature()
}

#[test]
fn docker_location_parses_image_and_limits() {
    let BackendSpec::Docker(spec) = parse(
        "docker://ghcr.io/org/python:3.12-slim?memory=512m&cpus=1.5&pids=128&network=false&runtime=runsc",
    ) else {
        panic!("not docker")
    };
    assert_eq!(spec.image, "ghcr.io/org/python:3.12-slim");
    assert_eq!(spec.memory, Some(512 << 20));
    assert_eq!(spec.cpus, Some(1.5));
    assert_eq!(spec.pids, Some(128));
    assert_eq!(spec.network, Some(false));
    assert_eq!(spec.runtime.as_deref(), Some("runsc"));
    assert!(refused("docker://").contains("needs an image"));
}

#[test]
fn s3_location_parses_bucket_prefix_and_endpoint() {
    let BackendSpec::S3(spec) = parse(
        "s3://agent-files/runs/42/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=us-east-1&path_style=true",
    ) else {
        panic!("not s3")
    };
    assert_eq!(spec.bucket, "agent-files");
    assert_eq!(spec.prefix, "runs/42");
    assert_eq!(spec.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(spec.region.as_deref(), Some("us-east-1"));
    assert_eq!(spec.path_style, Some(true));
    assert!(matches!(parse("s3://bucket"), BackendSpec::S3(s) if s.prefix.is_empty()));
    assert!(refused("s3:///prefix").contains("needs a bucket"));
}

#[test]
fn remote_locations_parse_for_each_provider() {
    for (location, provider, target) in [
        (
            "e2b://code-interpreter?timeout=300",
            Provider::E2b,
            Some("code-interpreter"),
        ),
        (
            "daytona://python-snapshot",
            Provider::Daytona,
            Some("python-snapshot"),
        ),
        ("runloop://bpt_123", Provider::Runloop, Some("bpt_123")),
        (
            "modal://agents?image=python:3.12",
            Provider::Modal,
            Some("agents"),
        ),
        ("e2b://", Provider::E2b, None),
    ] {
        let BackendSpec::Remote(spec) = parse(location) else {
            panic!("{location} is not remote")
        };
        assert_eq!(spec.provider, provider, "{location}");
        assert_eq!(spec.target.as_deref(), target, "{location}");
        assert_eq!(parse(location).required_feature(), provider.scheme());
    }
    let BackendSpec::Remote(e2b) = parse("e2b://t?timeout=300&api_url=http://localhost:1") else {
        panic!("not remote")
    };
    assert_eq!(e2b.option("timeout"), Some("300"));
    assert_eq!(e2b.option("api_url"), Some("http://localhost:1"));
    assert!(refused("e2b://t?timeout=soon").contains("`timeout`"));
    let BackendSpec::Remote(env) = parse("daytona://s?env.GREETING=hi&label.team=x") else {
        panic!("not remote")
    };
    assert_eq!(env.option("env.GREETING"), Some("hi"));
    assert_eq!(
        env.provider_options().last(),
        Some(&("snapshot", "s")),
        "the target is passed on under the provider's key"
    );
    assert!(refused("e2b://t?image=x").contains("unknown parameter `image`"));
    assert!(refused("modal://app?api_key_env=K").contains("unknown parameter `api_key_env`"));
}

#[test]
fn unknown_parameters_and_bad_values_are_named() {
    let message = refused("docker://python?memroy=1g");
    assert!(message.contains("`memroy`"), "{message}");
    assert!(message.contains("memory, cpus"), "{message}");
    let message = refused("docker://python?cpus=many");
    assert!(
        message.contains("`cpus`") && message.contains("many"),
        "{message}"
    );
    let message = refused("state://?quota=huge");
    assert!(message.contains("`quota`"), "{message}");
    assert!(refused("state://?quota=1&quota=2").contains("twice"));
}

#[test]
fn unknown_schemes_and_missing_schemes_list_the_known_ones() {
    assert!(refused("ftp://host/x").contains("state, file, docker"));
    assert!(refused("/srv/ws").contains("has no scheme"));
}

#[test]
fn toml_composite_config_parses_default_and_routes() {
    let spec = BackendSpec::from_toml(
        r#"
        default = "docker://python:3.12-slim?memory=1g"
        [routes]
        "/memories/" = "file:///srv/memories"
        "/cache/" = { url = "s3://agent-cache/run-1", region = "eu-west-1" }
        "#,
    )
    .expect("valid config");
    let BackendSpec::Composite(composite) = spec else {
        panic!("not a composite")
    };
    assert!(matches!(*composite.default, BackendSpec::Docker(ref d) if d.memory == Some(1 << 30)));
    assert!(matches!(
        composite.routes["/memories/"],
        BackendSpec::Local(_)
    ));
    assert!(
        matches!(&composite.routes["/cache/"], BackendSpec::S3(s) if s.region.as_deref() == Some("eu-west-1"))
    );
}

#[test]
fn json_config_takes_a_url_table_with_parameters() {
    let spec =
        BackendSpec::from_json(r#"{"url": "docker://python:3.12", "memory": "2g", "cpus": 2}"#)
            .expect("valid config");
    let BackendSpec::Docker(docker) = spec else {
        panic!("not docker")
    };
    assert_eq!((docker.memory, docker.cpus), (Some(2 << 30), Some(2.0)));
    let twice = BackendSpec::from_json(r#"{"url": "docker://p?memory=1g", "memory": "2g"}"#)
        .expect_err("memory given twice");
    assert!(
        twice.message().contains("both in the URL and in the table"),
        "{twice}"
    );
}

#[test]
fn config_errors_say_which_part_is_wrong() {
    let err = BackendSpec::from_toml("default = \"state://\"\n[routes]\n\"/m/\" = \"docker://\"\n")
        .expect_err("route without image");
    assert!(err.message().starts_with("route \"/m/\""), "{err}");
    let err = BackendSpec::from_toml("defualt = \"state://\"").expect_err("typo");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = BackendSpec::from_toml("default = \"state://\"\nroute = {}").expect_err("typo");
    assert!(err.message().contains("unknown key `route`"), "{err}");
}

#[test]
fn specs_deserialize_inside_a_larger_config() {
    #[derive(serde::Deserialize)]
    struct ServerConfig {
        backend: BackendSpec,
    }
    let config: ServerConfig =
        toml::from_str("backend = \"state://?quota=1k\"").expect("valid server config");
    assert!(matches!(config.backend, BackendSpec::State(s) if s.quota == Some(1024)));
}

/// Every key a location takes, the target key, and the secrets (which never
/// go in a location): exactly what the provider accepts.
#[cfg(all(
    feature = "e2b",
    feature = "daytona",
    feature = "runloop",
    feature = "modal"
))]
#[test]
fn remote_location_parameters_match_the_provider_options() {
    use agent_backend::remote::{self, RemoteConfig};

    fn check<P: remote::Provider>(provider: Provider, secrets: &[&str]) {
        let mut ours = provider.parameters();
        ours.push(provider.target_key());
        ours.extend_from_slice(secrets);
        ours.sort_unstable();
        let mut theirs = RemoteConfig::<P>::option_keys();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{}", provider.scheme());
    }

    check::<remote::e2b::E2b>(Provider::E2b, &["api_key"]);
    check::<remote::daytona::Daytona>(Provider::Daytona, &["api_key"]);
    check::<remote::runloop::Runloop>(Provider::Runloop, &["api_key"]);
    check::<remote::modal::Modal>(Provider::Modal, &["token_id", "token_secret"]);
}
