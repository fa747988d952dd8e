//! The deployment files are checked, not just written: the Kubernetes
//! manifests render with kustomize and validate strictly against the
//! Kubernetes schemas (kubernetes-validate, from the venv); the compose
//! file's services, and every container's `curio` arguments in both, name
//! subcommands and flags the real binary has; Prometheus scrapes what the
//! services expose; the Grafana dashboard type-checks against Grafana's
//! published dashboard schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use curio_tests::curio_bin;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn venv_bin(name: &str) -> PathBuf {
    let bin = root().join(".venv/bin").join(name);
    assert!(bin.exists(), "{} is missing: run `make venv`", bin.display());
    bin
}

/// YAML documents (multi-document files too) as JSON, through the venv's PyYAML.
fn yaml(text: &str) -> Vec<Value> {
    let out = Command::new(venv_bin("python"))
        .args(["-c", "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "not YAML");
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// Renders a kustomization: with kubectl when present, else the plain files
/// it lists (the same resources without kustomize's namespace and labels).
fn render(dir: &str) -> String {
    let path = root().join(dir);
    match Command::new("kubectl").arg("kustomize").arg(&path).output() {
        Ok(out) => {
            assert!(out.status.success(), "kustomize {dir}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
        Err(_) => {
            eprintln!("kubectl not found: validating the base files without kustomize");
            let base = root().join("deploy/k8s/base");
            let k = &yaml(&std::fs::read_to_string(base.join("kustomization.yaml")).unwrap())[0];
            let files = k["resources"].as_array().unwrap().iter().map(|r| base.join(r.as_str().unwrap()));
            files.map(|f| std::fs::read_to_string(f).unwrap() + "\n---\n").collect()
        }
    }
}

/// Checks `args` (a container's arguments after the binary) against the
/// subcommand's `--help`: the subcommand exists and every `--flag` is one.
fn assert_curio_args(args: &[String], context: &str) {
    let sub = &args[0];
    let help = Command::new(curio_bin()).args([sub.as_str(), "--help"]).output().unwrap();
    assert!(help.status.success(), "{context}: `curio {sub}` is not a subcommand");
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in args[1..].iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap();
        assert!(
            help.contains(&format!("{name} "))
                || help.contains(&format!("{name}="))
                || help.contains(&format!("{name}\n")),
            "{context}: `curio {sub}` has no flag {name}"
        );
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[test]
fn kubernetes_manifests_render_and_validate_strictly() {
    for (dir, gpu) in [("deploy/k8s/base", true), ("deploy/k8s/overlays/cpu", false)] {
        let rendered = render(dir);
        let file = std::env::temp_dir().join(format!("curio-k8s-{}-{gpu}.yaml", std::process::id()));
        std::fs::write(&file, &rendered).unwrap();
        let out =
            Command::new(venv_bin("kubernetes-validate")).args(["--strict", "--quiet"]).arg(&file).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !report.contains("ERROR"), "{dir}:\n{report}");
        let docs = yaml(&rendered);
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        for kind in
            ["Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "StatefulSet", "Cluster", "ServiceMonitor"]
        {
            assert!(kinds.contains(&kind), "{dir} lacks a {kind}: {kinds:?}");
        }
        for d in docs.iter().filter(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet") {
            let container = &d["spec"]["template"]["spec"]["containers"][0];
            assert_curio_args(&strings(&container["args"]), &format!("{dir} {}", d["metadata"]["name"]));
            if d["kind"] == "StatefulSet" {
                let has_gpu = container["resources"]["limits"].get("nvidia.com/gpu").is_some();
                assert_eq!(has_gpu, gpu, "{dir}: the learner's GPU request");
                assert!(d["spec"]["volumeClaimTemplates"].is_array(), "the learner keeps its checkpoints on a volume");
            }
        }
        let monitors = docs.iter().filter(|d| d["kind"] == "ServiceMonitor").count();
        assert_eq!(monitors, 2, "pool and learner are scraped");
        std::fs::remove_file(&file).unwrap();
    }
}

/// Compose exposes nothing beyond this machine, takes Grafana's password
/// from the environment, and every Curio server asks its callers for a token.
#[test]
fn compose_publishes_on_loopback_only_and_every_curio_server_checks_tokens() {
    let compose = &yaml(&std::fs::read_to_string(root().join("deploy/compose/compose.yaml")).unwrap())[0];
    for (name, s) in compose["services"].as_object().unwrap() {
        for port in strings(&s["ports"]) {
            assert!(port.starts_with("127.0.0.1:"), "{name} publishes {port} beyond this machine");
        }
        if s["image"].as_str().is_some_and(|i| i.starts_with("curio")) {
            let args = strings(&s["command"]).join(" ");
            assert!(args.contains("--auth-token-file"), "{name} serves without tokens: {args}");
        }
    }
    let password = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].as_str().unwrap();
    assert!(password.starts_with("${GRAFANA_ADMIN_PASSWORD"), "Grafana's password is written in the file: {password}");
    let learner = strings(&compose["services"]["learner"]["command"]).join(" ");
    assert!(learner.contains("--pool-token-file"), "the learner calls the pools without a token");
}

#[test]
fn compose_services_run_real_commands_and_prometheus_scrapes_them() {
    let compose = &yaml(&std::fs::read_to_string(root().join("deploy/compose/compose.yaml")).unwrap())[0];
    let services = compose["services"].as_object().unwrap();
    for name in ["postgres", "pool-a", "pool-b", "learner", "prometheus", "grafana"] {
        assert!(services.contains_key(name), "compose lacks {name}");
    }
    let mut metrics_targets = vec![];
    for (name, s) in services {
        assert!(s.get("image").is_some() || s.get("build").is_some(), "{name} has no image");
        if s["image"].as_str().is_some_and(|i| i.starts_with("curio")) {
            let args = strings(&s["command"]);
            assert_curio_args(&args, &format!("compose {name}"));
            let listen = args.iter().position(|a| a.starts_with("--metrics-listen")).expect("metrics exposed");
            let addr = args[listen].split_once('=').map_or(args[listen + 1].clone(), |(_, v)| v.to_string());
            metrics_targets.push(format!("{name}:{}", addr.rsplit(':').next().unwrap()));
        }
        for volume in strings(&s["volumes"]).iter().filter(|v| v.starts_with("../")) {
            let host = volume.split(':').next().unwrap();
            assert!(root().join("deploy/compose").join(host).exists(), "{name} mounts missing {host}");
        }
    }
    let prometheus = &yaml(&std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml")).unwrap())[0];
    let scraped: Vec<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| job["static_configs"].as_array().unwrap().iter().flat_map(|c| strings(&c["targets"])))
        .collect();
    metrics_targets.sort();
    let mut scraped_sorted = scraped.clone();
    scraped_sorted.sort();
    assert_eq!(scraped_sorted, metrics_targets, "Prometheus scrapes exactly the services' metrics endpoints");
    let learner = strings(&services["learner"]["command"]).join(" ");
    assert!(learner.contains("--pool=pool-a:50051,pool-b:50051"), "the learner drives both pools: {learner}");
}

/// The dashboard JSON as a TypeScript value of Grafana's `Dashboard` type
/// (from `@grafana/schema`, installed by `make node`): unknown fields, a
/// missing required one or a wrong type fail the check.
#[test]
fn the_dashboard_type_checks_against_grafanas_dashboard_schema() {
    let node = root().join(".node");
    let tsc = node.join("node_modules/.bin/tsc");
    assert!(tsc.exists(), "{} is missing: run `make node`", tsc.display());
    let types = node.join("node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen");
    let dashboard = std::fs::read_to_string(root().join("deploy/grafana/dashboards/curio.json")).unwrap();
    let check = |json: &str, name: &str| {
        let file = std::env::temp_dir().join(format!("curio-dashboard-{}-{name}.ts", std::process::id()));
        let source = format!(
            "import type {{ Dashboard }} from '{}';\nexport const dashboard: Dashboard = {json};\n",
            types.display()
        );
        std::fs::write(&file, source).unwrap();
        let out = Command::new(&tsc)
            .args(["--noEmit", "--strict", "--target", "es2020", "--moduleResolution", "node"])
            .arg(&file)
            .output()
            .unwrap();
        std::fs::remove_file(&file).unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, errors) = check(&dashboard, "real");
    assert!(ok, "the dashboard does not match Grafana's schema:\n{errors}");
    // The check can fail: a field Grafana does not know is refused.
    let bad = dashboard.replacen("\"gridPos\": {", "\"gridPos\": {\"wide\": 3, ", 1);
    let (ok, errors) = check(&bad, "bad");
    assert!(!ok && errors.contains("wide"), "an unknown gridPos field passed: {errors}");
}
