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
    let depth = args.iter().take_while(|a| !a.starts_with("--")).count().max(1);
    let sub = args[..depth].join(" ");
    let help = Command::new(curio_bin()).args(&args[..depth]).arg("--help").output().unwrap();
    assert!(help.status.success(), "{context}: `curio {sub}` is not a subcommand");
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in args[depth..].iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap();
        assert!(
            help.contains(&format!("{name} "))
                || help.contains(&format!("{name}="))
                || help.contains(&format!("{name}\n")),
            "{context}: `curio {sub}` has no flag {name}"
        );
    }
}

fn is_curio(service: &Value) -> bool {
    service["image"].as_str().is_some_and(|i| i.starts_with("curio"))
}

/// A compose service running a Curio gRPC server (not a one-off command).
fn is_curio_server(service: &Value) -> bool {
    is_curio(service) && ["pool", "learner", "run"].contains(&strings(&service["command"])[0].as_str())
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
            let pod = &d["spec"]["template"]["spec"];
            let containers = pod["containers"].as_array().unwrap().iter();
            for c in containers.chain(pod["initContainers"].as_array().into_iter().flatten()) {
                assert_curio_args(&strings(&c["args"]), &format!("{dir} {} {}", d["metadata"]["name"], c["name"]));
            }
            let container = &pod["containers"][0];
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
        if is_curio_server(s) {
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
        if is_curio(s) {
            assert_curio_args(&strings(&s["command"]), &format!("compose {name}"));
        }
        if is_curio_server(s) {
            let args = strings(&s["command"]);
            let listen = args.iter().position(|a| a.starts_with("--metrics-listen")).expect("metrics exposed");
            let addr = args[listen].split_once('=').map_or(args[listen + 1].clone(), |(_, v)| v.to_string());
            metrics_targets.push(format!("{name}:{}", addr.rsplit(':').next().unwrap()));
        }
        for volume in strings(&s["volumes"]).iter().filter(|v| v.starts_with("../") || v.starts_with("./")) {
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

/// The pod templates of the rendered workloads, with their names.
fn pod_templates(docs: &[Value]) -> Vec<(String, &Value)> {
    let workloads = docs.iter().filter(|d| ["Deployment", "StatefulSet", "Job"].contains(&d["kind"].as_str().unwrap()));
    workloads.map(|d| (d["metadata"]["name"].as_str().unwrap().to_string(), &d["spec"]["template"])).collect()
}

/// Every pod meets the `restricted` Pod Security standard (and the
/// namespace enforces it), writes only to its volumes, and carries no
/// Kubernetes API token.
#[test]
fn kubernetes_pods_are_restricted_read_only_and_carry_no_api_token() {
    for dir in ["deploy/k8s/base", "deploy/k8s/overlays/cpu"] {
        let docs = yaml(&render(dir));
        let namespace = docs.iter().find(|d| d["kind"] == "Namespace").expect("the namespace is part of the deploy");
        let labels = &namespace["metadata"]["labels"];
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted", "{dir}: the namespace's standard");
        let pods = pod_templates(&docs);
        assert!(pods.len() >= 2, "{dir}: pool and learner");
        for (name, template) in pods {
            let pod = &template["spec"];
            assert_eq!(pod["automountServiceAccountToken"], false, "{dir} {name}: mounts an API token");
            assert!(!pod["hostNetwork"].as_bool().unwrap_or(false), "{dir} {name}: host network");
            let security = &pod["securityContext"];
            assert_eq!(security["runAsNonRoot"], true, "{dir} {name}: may run as root");
            assert!(security["runAsUser"].as_u64().is_some_and(|u| u > 0), "{dir} {name}: no non-root user");
            assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault", "{dir} {name}: seccomp");
            for volume in pod["volumes"].as_array().into_iter().flatten() {
                let kinds = ["emptyDir", "secret", "persistentVolumeClaim", "configMap"];
                assert!(kinds.iter().any(|k| volume.get(k).is_some()), "{dir} {name}: volume {volume}");
            }
            let containers = pod["containers"].as_array().unwrap().iter();
            for c in containers.chain(pod["initContainers"].as_array().into_iter().flatten()) {
                let what = format!("{dir} {name} container {}", c["name"]);
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}: privilege escalation");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}: writable root file system");
                assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}: capabilities kept");
                assert!(sc["capabilities"].get("add").is_none(), "{what}: capabilities added");
                assert!(sc.get("privileged").is_none_or(|p| p == false), "{what}: privileged");
            }
        }
    }
}

/// A pod for the policy check: its namespace and labels, or an address
/// outside the cluster.
#[derive(Clone)]
enum Peer {
    Pod { namespace: String, labels: serde_json::Map<String, Value> },
    External([u8; 4]),
}

fn pod(namespace: &str, labels: &[(&str, &str)]) -> Peer {
    let labels = labels.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    Peer::Pod { namespace: namespace.into(), labels }
}

/// `matchLabels` (the only form the manifests use; anything else fails).
fn selects(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    assert!(selector.get("matchExpressions").is_none(), "only matchLabels is understood here: {selector}");
    let wanted = selector["matchLabels"].as_object().cloned().unwrap_or_default();
    wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn in_cidr(addr: [u8; 4], cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap();
    let net: Vec<u8> = net.split('.').map(|o| o.parse().unwrap()).collect();
    let bits: u32 = bits.parse().unwrap();
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from_be_bytes(addr) & mask == u32::from_be_bytes([net[0], net[1], net[2], net[3]]) & mask
}

/// Whether one `from`/`to` entry of a rule in `policy_ns` matches `peer`.
fn peer_matches(entry: &Value, policy_ns: &str, peer: &Peer) -> bool {
    match peer {
        Peer::External(addr) => entry.get("ipBlock").is_some_and(|b| {
            in_cidr(*addr, b["cidr"].as_str().unwrap()) && !strings(&b["except"]).iter().any(|e| in_cidr(*addr, e))
        }),
        Peer::Pod { namespace, labels } => {
            if entry.get("ipBlock").is_some() {
                return false;
            }
            let ns_ok = match entry.get("namespaceSelector") {
                Some(sel) => {
                    let mut ns_labels = serde_json::Map::new();
                    ns_labels.insert("kubernetes.io/metadata.name".into(), Value::from(namespace.as_str()));
                    selects(sel, &ns_labels)
                }
                None => namespace == policy_ns,
            };
            ns_ok && entry.get("podSelector").is_none_or(|sel| selects(sel, labels))
        }
    }
}

fn port_matches(rule: &Value, port: u16, protocol: &str) -> bool {
    let Some(ports) = rule["ports"].as_array() else { return true };
    ports.is_empty()
        || ports.iter().any(|p| {
            let number = p["port"].as_u64().expect("numeric ports only");
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            number == port as u64 && proto == protocol
        })
}

/// Whether NetworkPolicy semantics let `from` open `port` on `to`: each
/// end isolated in a direction by any policy selecting it for that
/// direction, then allowed by any rule of those policies.
fn allowed(policies: &[&Value], from: &Peer, to: &Peer, port: u16, protocol: &str) -> bool {
    let direction = |pod: &Peer, kind: &str, key: &str, peers: &str, other: &Peer| -> bool {
        let Peer::Pod { namespace, labels } = pod else { return true };
        let selecting: Vec<&&Value> = policies
            .iter()
            .filter(|p| p["metadata"]["namespace"].as_str().unwrap_or("curio") == namespace)
            .filter(|p| selects(&p["spec"]["podSelector"], labels))
            .filter(|p| {
                let types = strings(&p["spec"]["policyTypes"]);
                if types.is_empty() {
                    kind == "Ingress" || p["spec"].get(key).is_some()
                } else {
                    types.contains(&kind.into())
                }
            })
            .collect();
        selecting.is_empty()
            || selecting.iter().any(|p| {
                p["spec"][key].as_array().into_iter().flatten().any(|rule| {
                    let entries = rule[peers].as_array();
                    port_matches(rule, port, protocol)
                        && entries.is_none_or(|e| e.iter().any(|e| peer_matches(e, namespace, other)))
                })
            })
    };
    direction(from, "Egress", "egress", "to", to) && direction(to, "Ingress", "ingress", "from", from)
}

/// The NetworkPolicies, evaluated: the learner alone reaches the pools,
/// the pools reach nothing, the learner takes calls only from its clients,
/// and only the learner (and the store's own machinery) reaches the store.
#[test]
fn network_policies_let_only_the_learner_reach_the_pools_and_the_pools_reach_nothing() {
    let docs = yaml(&render("deploy/k8s/base"));
    let policies: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "NetworkPolicy").collect();
    let default_deny = policies.iter().any(|p| {
        p["spec"]["podSelector"].as_object().is_some_and(|s| s.is_empty())
            && strings(&p["spec"]["policyTypes"]).len() == 2
            && p["spec"].get("ingress").is_none()
            && p["spec"].get("egress").is_none()
    });
    assert!(default_deny, "no default-deny policy");
    let label_of = |name: &str| -> Peer {
        let (_, template) = pod_templates(&docs).into_iter().find(|(n, _)| n == name).unwrap();
        let labels = template["metadata"]["labels"].as_object().unwrap().clone();
        Peer::Pod { namespace: "curio".into(), labels }
    };
    let (learner, pool) = (label_of("curio-learner"), label_of("curio-pool"));
    let store = pod("curio", &[("cnpg.io/cluster", "curio-store")]);
    let client = pod("research", &[("curio.dev/learner-client", "true")]);
    let stranger = pod("curio", &[("app", "debug-shell")]);
    let outsider = pod("default", &[]);
    let prometheus = pod("monitoring", &[("app.kubernetes.io/name", "prometheus")]);
    let dns = pod("kube-system", &[("k8s-app", "kube-dns")]);
    let internet = Peer::External([203, 0, 113, 7]);
    let can = |from: &Peer, to: &Peer, port: u16| allowed(&policies, from, to, port, "TCP");

    assert!(can(&learner, &pool, 50051), "the learner cannot call the pools");
    for (who, from) in [("a client", &client), ("a stranger", &stranger), ("an outsider", &outsider)] {
        assert!(!can(from, &pool, 50051), "{who} can call the pools");
    }
    assert!(can(&prometheus, &pool, 9464) && !can(&prometheus, &pool, 50051), "Prometheus reaches only metrics");
    for (what, to, port) in [
        ("the learner", &learner, 50052),
        ("the store", &store, 5432),
        ("the internet", &internet, 443),
        ("another pool", &pool, 50051),
    ] {
        assert!(!can(&pool, to, port), "a pool reaches {what}");
    }
    assert!(!allowed(&policies, &pool, &dns, 53, "UDP"), "a pool resolves names");
    assert!(can(&client, &learner, 50052), "the learner's clients cannot reach it");
    assert!(
        !can(&stranger, &learner, 50052) && !can(&outsider, &learner, 50052),
        "an unlabelled pod reaches the learner"
    );
    assert!(!can(&client, &learner, 9465), "a client reaches the learner's metrics");
    assert!(can(&learner, &store, 5432) && allowed(&policies, &learner, &dns, 53, "UDP"), "the learner's store or DNS");
    assert!(!can(&learner, &internet, 443), "the learner reaches the internet");
    assert!(!can(&stranger, &store, 5432) && !can(&client, &store, 5432), "the store takes strangers' connections");
    assert!(can(&store, &store, 5432), "the store's instances cannot replicate");
    // The check can fail: without the default-deny and the pool's policy,
    // anyone reaches a pool.
    let open: Vec<&Value> = policies.iter().copied().filter(|p| p["metadata"]["name"] == "curio-learner").collect();
    assert!(allowed(&open, &stranger, &pool, 50051, "TCP"), "the evaluator isolates pods no policy selects");
}

/// Migrations run as the database's owner; the services as a role that
/// may not change the schema (Kubernetes and compose alike).
#[test]
fn the_services_run_as_a_database_role_without_ddl_rights() {
    let docs = yaml(&render("deploy/k8s/base"));
    let cluster = docs.iter().find(|d| d["kind"] == "Cluster").unwrap();
    let roles = cluster["spec"]["managed"]["roles"].as_array().expect("the store declares its runtime role");
    let runtime = roles.iter().find(|r| r["name"] == "curio_app").expect("curio_app is declared");
    for right in ["superuser", "createdb", "createrole", "replication"] {
        assert!(!runtime[right].as_bool().unwrap_or(false), "curio_app has {right}");
    }
    assert!(runtime.get("inRoles").is_none(), "curio_app inherits another role's rights");
    let owner_secret = cluster["spec"]["bootstrap"]["initdb"]["owner"].as_str().unwrap();
    assert_ne!(owner_secret, "curio_app");
    let (_, learner) = pod_templates(&docs).into_iter().find(|(n, _)| n == "curio-learner").unwrap();
    let pod = &learner["spec"];
    let migrate = &pod["initContainers"][0];
    assert_eq!(strings(&migrate["args"]), ["db", "migrate", "--grant=curio_app"]);
    let secret_of = |c: &Value| -> Vec<String> {
        let env = c["env"].as_array().into_iter().flatten();
        env.filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str().map(String::from)).collect()
    };
    assert_eq!(secret_of(migrate), ["curio-store-app"], "the migration runs as the owner");
    let main = &pod["containers"][0];
    assert!(!secret_of(main).contains(&"curio-store-app".to_string()), "the learner can read the owner's secret");
    assert!(secret_of(main).contains(&"curio-store-runtime".to_string()), "the learner's role");

    let compose = &yaml(&std::fs::read_to_string(root().join("deploy/compose/compose.yaml")).unwrap())[0];
    let services = &compose["services"];
    let user = |url: &Value| url.as_str().unwrap().split("://").nth(1).unwrap().split(':').next().unwrap().to_string();
    let owner = user(&services["migrate"]["environment"]["DATABASE_URL"]);
    let runtime = user(&services["learner"]["environment"]["DATABASE_URL"]);
    assert_eq!(strings(&services["migrate"]["command"]), ["db", "migrate", "--grant", runtime.as_str()]);
    assert_ne!(owner, runtime, "compose's learner runs as the owner");
    assert_eq!(services["learner"]["depends_on"]["migrate"]["condition"], "service_completed_successfully");
    let roles = std::fs::read_to_string(root().join("deploy/compose/postgres-roles.sql")).unwrap();
    assert!(roles.contains(&format!("CREATE ROLE {runtime} LOGIN")) && roles.contains("NOSUPERUSER NOCREATEDB"));
    for (name, s) in compose["services"].as_object().unwrap().iter().filter(|(_, s)| is_curio(s)) {
        assert_eq!(s["read_only"], true, "compose {name}: writable root file system");
        assert_eq!(strings(&s["cap_drop"]), ["ALL"], "compose {name}: capabilities kept");
        assert!(strings(&s["security_opt"]).contains(&"no-new-privileges:true".into()), "compose {name}");
        assert!(s["user"].as_str().is_some_and(|u| !u.starts_with("0") && !u.starts_with("root")), "compose {name}");
    }
}
