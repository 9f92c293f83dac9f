//! Fingerprints and merge: turning every provider's alerts into one de-duplicated list.
//!
//! Graph itself never folds alerts: each provider's alert comes back as is, so a detection seen
//! by Defender for Endpoint and by a partner EDR shows up twice. Vigil folds them, and it must
//! do so *deterministically*: the gateway runs on several replicas, caches per provider and is
//! restarted at will, and a client that read an alert id must find it again. Everything here is
//! therefore a pure function of the *set* of input alerts: input order never matters, and no
//! clock, randomness or process state is involved.
//!
//! # Steps
//!
//! 1. **Exact duplicates**: the same `(provider, id)` seen more than once (overlapping pages,
//!    retries, two cached answers) is kept once: the copy with the latest
//!    `lastModifiedDateTime` (ties broken by content, so still order independent).
//! 2. **Fingerprint keys**: each alert yields entity keys, each scoped to its tenant
//!    (`azureTenantId`, case-insensitive). Which kinds count is configured by
//!    [`FingerprintRule::entities`]; the normalisation is:
//!    - [`EntityKind::FileHash`]: `fileStates[].fileHash.hashValue` and
//!      `processes[].fileHash.hashValue`, trimmed and lower-cased;
//!    - host names: the first label of `hostStates[].fqdn` (so `WS-1.corp.contoso.com` matches
//!      the NetBIOS name `ws-1`) and `netBiosName`, lower-cased, trailing dot ignored;
//!    - users: `userStates[].aadUserId` lower-cased, and the bare account name (`accountName`
//!      without a `DOMAIN\` prefix or `@suffix`, else the local part of `userPrincipalName`),
//!      lower-cased;
//!    - [`EntityKind::HostUser`]: every (host name, user) pair of the alert;
//!    - [`EntityKind::Ip`]: `hostStates[].privateIpAddress`/`publicIpAddress` and
//!      `userStates[].logonIp`; [`EntityKind::NetworkIp`]: `networkConnections[]` source,
//!      destination and NAT addresses and `cloudAppStates[].destinationServiceIp`. Addresses are
//!      parsed (`std::net::IpAddr`, IPv4-mapped IPv6 folded to IPv4, so spelling variants match);
//!      unparsable, unspecified, loopback, link-local, multicast and broadcast addresses are
//!      ignored (the redacted `127.0.0.1` of captured responses must not merge everything).
//!
//!    Keys are 64-bit hashes of the normalised text, so extraction allocates nothing per key;
//!    a hash collision could at worst propose one wrong candidate pair (odds about 1e-8 for a
//!    million keys), and the pair must still pass every other test below.
//! 3. **Candidates**: alerts sharing a key are sorted by event time (`eventDateTime`, else
//!    `createdDateTime`; an alert with neither is never folded), and each is paired with the
//!    earlier alerts of that key within [`FingerprintRule::window_seconds`], at most
//!    [`FingerprintRule::max_candidates_per_key`] of them. A pair must come from two different
//!    providers, the same tenant, and have compatible categories (equal after dropping case and
//!    non-alphanumerics; a missing, `None` or `unknown` category is compatible with any) when
//!    [`FingerprintRule::require_compatible_category`] is set, and equal titles when
//!    [`FingerprintRule::require_same_title`] is set. Cost: O(n log n) for n alerts, bounded by
//!    the per-key cap even when one key is shared by thousands of alerts.
//! 4. **Grouping**: candidate pairs are applied closest in time first (ties by the canonical
//!    `(provider, id)` order) with union-find. A union is refused when the two groups would
//!    disagree on category (or title), or, with [`FingerprintRule::one_alert_per_provider`], when
//!    both already hold an alert of the same provider: a provider's own two alerts are two
//!    detections in its own judgement, and the closest match wins.
//! 5. **Fold** each group into one [`Alert`] (precedence below) with a stable id.
//!
//! # Unified ids
//!
//! A group of one keeps the provider's own id, unchanged: an alert only one provider knows looks
//! exactly as that provider (or Graph) shows it, and its id keeps working in the provider's
//! portal and in PATCH. A group of several gets [`unified_id`]: a UUID v5 over its sorted
//! `(provider, provider id)` pairs, so every replica computes the same id for the same sources
//! at any time. The id changes when the set of sources changes (a third provider reports the
//! detection later); the gateway resolves old unified ids and provider ids through its alert
//! index, fed from [`VigilSource`]s. Configuration must keep provider instance names stable, and
//! providers whose id spaces overlap (two instances of one product) can yield two single-source
//! alerts with the same id; the gateway has to detect that when it indexes.
//!
//! # Fold precedence
//!
//! Sources are ordered freshest first: latest `lastModifiedDateTime` (missing last), then
//! `(provider, id)`. Then:
//! - `severity`: the highest (`high` > `medium` > `low` > `informational` > the unknowns);
//! - `status`: the most advanced (`resolved` > `dismissed` > `inProgress` > `newAlert` > the
//!   unknowns);
//! - `feedback`: a real verdict beats `unknown`, which beats none; otherwise the freshest;
//! - `confidence`: the highest;
//! - `createdDateTime`, `eventDateTime`: the earliest; `lastEventDateTime`,
//!   `lastModifiedDateTime`, `closedDateTime`: the latest;
//! - other scalars (`title`, `description`, `category`, `assignedTo`, `activityGroupName`,
//!   `azureSubscriptionId`) and `vendorInformation`: the freshest source that has one;
//! - collections: the union in source order, dropping an item equal to one an earlier source
//!   gave (a source's own repeats are kept);
//! - undeclared properties: the union, the freshest source winning a key.
//!
//! # The `vigil*` extension
//!
//! `alert` is an OData open type, so the provenance travels as two undeclared properties on
//! every alert the merge returns (any incoming `vigil*` values are replaced):
//!
//! ```json
//! "vigilSources": [
//!   {"provider": "mde-eu", "vendor": "Microsoft", "product": "Microsoft Defender ATP",
//!    "providerAlertId": "da6375...", "status": "newAlert", "severity": "high"}
//! ],
//! "vigilFieldSources": {"severity": "falcon-prod", "title": "mde-eu"}
//! ```
//!
//! `vigilSources` lists every folded source, sorted by `(provider, providerAlertId)`:
//! `provider` is the configured provider instance name, `vendor`/`product` its
//! `vendorInformation.vendor`/`provider`, then the provider's own id, status and severity.
//! `vigilFieldSources` names, for each scalar property whose values differed between the
//! sources, the provider instance whose value was kept (empty for a single source).

use crate::alert::Alert;
use crate::enums::{AlertFeedback, AlertSeverity, AlertStatus};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;

/// An alert as one configured provider instance returned it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourcedAlert {
    /// The configured provider instance name (e.g. `mde-eu`), not the product name.
    pub provider: String,
    pub alert: Alert,
}

/// The kinds of entity that make two alerts the same detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A file hash (any algorithm; values are compared, lower-cased).
    FileHash,
    /// The same account on the same host.
    HostUser,
    /// The same host, whoever the user (weak: many detections hit one host).
    Host,
    /// The same account, wherever (weak).
    User,
    /// An address of an involved host or logon.
    Ip,
    /// An endpoint of a network connection or cloud-app service (weak: popular services).
    NetworkIp,
}

/// How alerts from different providers are recognised as one detection. Deserializable from
/// the gateway configuration; every field has a default, unknown fields are an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FingerprintRule {
    /// Entity kinds that count as a shared strong entity. Default: file hash, host+user, IP.
    pub entities: Vec<EntityKind>,
    /// Maximum distance between the two alerts' event times. Default: 1800 (30 minutes).
    pub window_seconds: u64,
    /// Categories must be compatible (equal, or one of them missing/`None`/`unknown`).
    /// Default: true.
    pub require_compatible_category: bool,
    /// Titles must be equal (case and punctuation aside) or missing. Default: false: providers
    /// word the same detection differently.
    pub require_same_title: bool,
    /// A unified alert holds at most one alert of each provider instance. Default: true.
    pub one_alert_per_provider: bool,
    /// Per alert and key, how many earlier alerts of that key are examined; bounds the cost of
    /// a key shared by thousands of alerts (a NAT address, a common tool's hash). Default: 64.
    pub max_candidates_per_key: usize,
}

impl Default for FingerprintRule {
    fn default() -> Self {
        Self {
            entities: vec![EntityKind::FileHash, EntityKind::HostUser, EntityKind::Ip],
            window_seconds: 30 * 60,
            require_compatible_category: true,
            require_same_title: false,
            one_alert_per_provider: true,
            max_candidates_per_key: 64,
        }
    }
}

/// One entry of the `vigilSources` extension.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = vigil::alertSource))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VigilSource {
    /// The configured provider instance name.
    pub provider: String,
    /// `vendorInformation.vendor` of the source alert.
    pub vendor: Option<String>,
    /// `vendorInformation.provider` (the product) of the source alert.
    pub product: Option<String>,
    /// The provider's own alert id.
    pub provider_alert_id: String,
    pub status: AlertStatus,
    pub severity: AlertSeverity,
}

/// The undeclared property holding the [`VigilSource`] list.
pub const VIGIL_SOURCES: &str = "vigilSources";
/// The undeclared property naming, per differing field, the provider whose value was kept.
pub const VIGIL_FIELD_SOURCES: &str = "vigilFieldSources";

/// The OpenAPI properties of the `vigil*` extension (feature `openapi`), to add to the
/// `microsoft.graph.alert` schema. They are undeclared properties of an open type in Graph's
/// terms, so the derived schema cannot list them; they are optional (absent on an alert
/// that did not go through the merge, and unless `$select` names them).
#[cfg(feature = "openapi")]
pub fn openapi_extension_properties() -> Vec<(
    &'static str,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    use utoipa::ToSchema;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    use utoipa::openapi::{Ref, RefOr};
    let sources = ArrayBuilder::new()
        .items(RefOr::Ref(Ref::from_schema_name(VigilSource::name())))
        .description(Some(
            "Vigil extension: every provider alert folded into this one, sorted by \
             (provider, providerAlertId).",
        ));
    let field_sources = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "Vigil extension: for each property whose value differed between the sources, \
             the provider instance whose value was kept (empty for a single source).",
        ));
    vec![
        (VIGIL_SOURCES, sources.into()),
        (VIGIL_FIELD_SOURCES, field_sources.into()),
    ]
}

impl VigilSource {
    /// Reads the `vigilSources` extension of a merged alert (empty when it has none).
    pub fn of(alert: &Alert) -> Vec<VigilSource> {
        alert
            .additional_data
            .get(VIGIL_SOURCES)
            .and_then(|v| Vec::<VigilSource>::deserialize(v).ok())
            .unwrap_or_default()
    }
}

/// The `vigilSources` entry of one source (the JSON form of [`VigilSource`]).
fn source_value(s: &SourcedAlert) -> Value {
    let a = &s.alert;
    let mut m = Map::with_capacity(6);
    m.insert("provider".into(), Value::String(s.provider.clone()));
    m.insert("vendor".into(), opt_string(&a.vendor_information.vendor));
    m.insert("product".into(), opt_string(&a.vendor_information.provider));
    m.insert("providerAlertId".into(), Value::String(a.id.clone()));
    m.insert("status".into(), Value::String(a.status.as_str().into()));
    m.insert("severity".into(), Value::String(a.severity.as_str().into()));
    Value::Object(m)
}

fn opt_string(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The UUID v5 namespace of unified alert ids (itself the v5 UUID of the URL
/// `urn:vigil:unified-alert` in the URL namespace). Never change it: ids are persisted.
pub const UNIFIED_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x1aa37c1b_f76c_57b8_8905_2b333124eb65);

/// The id of a unified alert folded from several sources: a UUID v5 over the sorted
/// `(provider instance, provider alert id)` pairs, each string length-prefixed so that no two
/// different sets encode alike. Order and repeats of `sources` do not matter.
pub fn unified_id<'a, I>(sources: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = sources.into_iter().collect();
    pairs.sort_unstable();
    pairs.dedup();
    let len: usize = pairs.iter().map(|(p, i)| p.len() + i.len() + 16).sum();
    let mut name = Vec::with_capacity(len);
    for (p, i) in pairs {
        name.extend_from_slice(&(p.len() as u64).to_le_bytes());
        name.extend_from_slice(p.as_bytes());
        name.extend_from_slice(&(i.len() as u64).to_le_bytes());
        name.extend_from_slice(i.as_bytes());
    }
    uuid::Uuid::new_v5(&UNIFIED_ID_NAMESPACE, &name)
        .hyphenated()
        .to_string()
}

/// Merges the alerts of every provider: exact duplicates are dropped, cross-provider duplicates
/// are folded (see the module documentation). The result is sorted by id and depends only on the
/// set of inputs, never on their order.
pub fn merge(mut alerts: Vec<SourcedAlert>, rule: &FingerprintRule) -> Vec<Alert> {
    // Alerts are large and scattered in memory: they are never moved by a sort, and they are
    // visited in input (memory) order wherever the order does not matter, because at 100k
    // alerts cache misses, not arithmetic, dominate. `order[i]` is the input position of the
    // i-th kept alert in canonical (provider, id) order; "index" below means that canonical
    // index, which is what makes every decision independent of the input order.
    let order = canonical_order(&alerts);
    let n = order.len();
    if n == 0 {
        return Vec::new();
    }
    let mut canonical = vec![u32::MAX; alerts.len()];
    for (i, &k) in order.iter().enumerate() {
        canonical[k as usize] = i as u32;
    }
    let mut names: Vec<&str> = alerts.iter().map(|s| s.provider.as_str()).collect();
    names.sort_unstable();
    names.dedup();

    // One pass over the alerts; grouping then touches only `facts` and `postings`, which are
    // small and contiguous.
    let mut facts: Vec<Facts> = vec![Facts::default(); n];
    let mut postings: Vec<(u64, i64, u32)> = Vec::with_capacity(n * 4);
    let mut scratch = Scratch::default();
    for (s, &i) in alerts.iter().zip(&canonical) {
        if i == u32::MAX {
            continue; // an exact duplicate that lost
        }
        let provider = names.binary_search(&s.provider.as_str()).unwrap_or(0) as u32;
        let f = Facts::of(s, provider, rule, &mut scratch);
        if let Some(t) = f.time {
            postings.extend(scratch.keys.iter().map(|&k| (k, t, i)));
        }
        facts[i as usize] = f;
    }
    drop(names);

    let edges = candidate_edges(postings, &facts, rule);
    let mut sets = UnionFind::new(&facts);
    for e in &edges {
        sets.union(e.a as usize, e.b as usize, rule);
    }

    // Members grouped by root, each group in canonical order.
    let mut by_root: Vec<(u32, u32)> = (0..n).map(|i| (sets.find(i) as u32, i as u32)).collect();
    by_root.sort_unstable();
    let source = |i: u32| &alerts[order[i as usize] as usize];
    let mut groups: Vec<(String, &[(u32, u32)])> = Vec::with_capacity(n);
    for members in by_root.chunk_by(|a, b| a.0 == b.0) {
        let id = match members {
            [(_, only)] => source(*only).alert.id.clone(),
            _ => unified_id(members.iter().map(|&(_, i)| {
                let s = source(i);
                (s.provider.as_str(), s.alert.id.as_str())
            })),
        };
        groups.push((id, members));
    }

    // The output is sorted by id (sorting these small pairs moves no alert); the groups are
    // then folded in the input order of their first member and put in place.
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut by_memory: Vec<(u32, u32)> = groups
        .iter()
        .enumerate()
        .map(|(g, (_, members))| {
            let first = members.iter().map(|&(_, i)| order[i as usize]).min();
            (first.unwrap_or(0), g as u32)
        })
        .collect();
    by_memory.sort_unstable();

    let mut out: Vec<Option<Alert>> = Vec::new();
    out.resize_with(groups.len(), || None);
    for (_, g) in by_memory {
        let (id, members) = &mut groups[g as usize];
        let sources: Vec<SourcedAlert> = members
            .iter()
            .map(|&(_, i)| std::mem::take(&mut alerts[order[i as usize] as usize]))
            .collect();
        out[g as usize] = Some(fold(std::mem::take(id), sources));
    }
    out.into_iter().flatten().collect()
}

// ---- step 1: exact duplicates ---------------------------------------------------------------

/// The positions of the alerts to keep, in canonical `(provider, id)` order, one per pair.
fn canonical_order(alerts: &[SourcedAlert]) -> Vec<u32> {
    let key = |k: u32| {
        let s = &alerts[k as usize];
        (s.provider.as_str(), s.alert.id.as_str())
    };
    let mut idx: Vec<u32> = (0..alerts.len() as u32).collect();
    idx.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    let mut out: Vec<u32> = Vec::with_capacity(idx.len());
    for k in idx {
        if let Some(last) = out.last_mut()
            && key(*last) == key(k)
        {
            if prefer_copy(&alerts[k as usize].alert, &alerts[*last as usize].alert) {
                *last = k;
            }
            continue;
        }
        out.push(k);
    }
    out
}

/// Whether `a` should replace `b` as the kept copy of one provider alert: the later
/// `lastModifiedDateTime`, and between equally recent different copies, a content order (so the
/// choice does not depend on which copy came first).
fn prefer_copy(a: &Alert, b: &Alert) -> bool {
    match a.last_modified_date_time.cmp(&b.last_modified_date_time) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => {
            a != b
                && serde_json::to_string(a).unwrap_or_default()
                    > serde_json::to_string(b).unwrap_or_default()
        }
    }
}

// ---- step 2: per-alert facts and keys -------------------------------------------------------

/// What grouping needs to know of one alert, computed once.
#[derive(Clone, Copy, Default)]
struct Facts {
    /// Event time in ms since the epoch; `None`: never folded.
    time: Option<i64>,
    /// Hash of the lower-cased tenant id.
    tenant: u64,
    /// Hash of the normalised category; `None`: compatible with any.
    category: Option<u64>,
    /// Hash of the normalised title; `None`: compatible with any.
    title: Option<u64>,
    /// Index of the provider instance (canonical order).
    provider: u32,
}

/// Buffers reused for every alert, so that key extraction allocates nothing per alert.
#[derive(Default)]
struct Scratch {
    bytes: Vec<u8>,
    hosts: Vec<u64>,
    users: Vec<u64>,
    /// The keys of the alert last passed to [`Facts::of`] (deduplicated).
    keys: Vec<u64>,
}

impl Facts {
    /// The facts of `s`; its keys are left in `sc.keys`.
    fn of(s: &SourcedAlert, provider: u32, rule: &FingerprintRule, sc: &mut Scratch) -> Self {
        let a = &s.alert;
        let tenant = hash_lower(&mut sc.bytes, &a.azure_tenant_id);
        let time = a
            .event_date_time
            .or(a.created_date_time)
            .map(|t| t.epoch_millis());
        let category = a
            .category
            .as_deref()
            .and_then(|c| hash_label(&mut sc.bytes, c));
        let title = a
            .title
            .as_deref()
            .and_then(|t| hash_label(&mut sc.bytes, t));
        sc.keys.clear();
        if time.is_some() {
            entity_keys(a, tenant, rule, sc);
        }
        Self {
            time,
            tenant,
            category,
            title,
            provider,
        }
    }
}

const KIND_FILE_HASH: u8 = 1;
const KIND_HOST_USER: u8 = 2;
const KIND_HOST: u8 = 3;
const KIND_USER: u8 = 4;
const KIND_IP: u8 = 5;

/// Fills `sc.keys` (cleared by the caller) with the alert's fingerprint keys.
fn entity_keys(a: &Alert, tenant: u64, rule: &FingerprintRule, sc: &mut Scratch) {
    let wants = |k: EntityKind| rule.entities.contains(&k);
    let Scratch {
        bytes: scratch,
        hosts,
        users,
        keys,
    } = sc;

    if wants(EntityKind::FileHash) {
        let hashes = a
            .file_states
            .iter()
            .filter_map(|f| f.file_hash.as_ref())
            .chain(a.processes.iter().filter_map(|p| p.file_hash.as_ref()))
            .filter_map(|h| h.hash_value.as_deref());
        for v in hashes {
            if !v.trim().is_empty() {
                let atom = hash_lower(scratch, v);
                keys.push(combine(KIND_FILE_HASH, tenant, atom, 0));
            }
        }
    }

    let need_hosts = wants(EntityKind::HostUser) || wants(EntityKind::Host);
    let need_users = wants(EntityKind::HostUser) || wants(EntityKind::User);
    hosts.clear();
    if need_hosts {
        for h in &a.host_states {
            if let Some(f) = h.fqdn.as_deref()
                && let Some(label) = host_label(f)
            {
                hosts.push(hash_lower(scratch, label));
            }
            if let Some(nb) = h.net_bios_name.as_deref()
                && let Some(label) = host_label(nb)
            {
                hosts.push(hash_lower(scratch, label));
            }
        }
        hosts.sort_unstable();
        hosts.dedup();
    }
    users.clear();
    if need_users {
        for u in &a.user_states {
            if let Some(id) = u.aad_user_id.as_deref().filter(|s| !s.trim().is_empty()) {
                users.push(hash_lower(scratch, id) ^ 0x5a5a_5a5a_5a5a_5a5a);
            }
            if let Some(acct) = account_name(u) {
                users.push(hash_lower(scratch, acct));
            }
        }
        users.sort_unstable();
        users.dedup();
    }
    if wants(EntityKind::HostUser) {
        for &h in hosts.iter() {
            for &u in users.iter() {
                keys.push(combine(KIND_HOST_USER, tenant, h, u));
            }
        }
    }
    if wants(EntityKind::Host) {
        keys.extend(hosts.iter().map(|&h| combine(KIND_HOST, tenant, h, 0)));
    }
    if wants(EntityKind::User) {
        keys.extend(users.iter().map(|&u| combine(KIND_USER, tenant, u, 0)));
    }

    let push_ip = |s: Option<&str>, keys: &mut Vec<u64>| {
        if let Some(ip) = s.and_then(significant_ip) {
            let mut h = DefaultHasher::new();
            ip.hash(&mut h);
            keys.push(combine(KIND_IP, tenant, h.finish(), 0));
        }
    };
    if wants(EntityKind::Ip) {
        for h in &a.host_states {
            push_ip(h.private_ip_address.as_deref(), keys);
            push_ip(h.public_ip_address.as_deref(), keys);
        }
        for u in &a.user_states {
            push_ip(u.logon_ip.as_deref(), keys);
        }
    }
    if wants(EntityKind::NetworkIp) {
        for c in &a.network_connections {
            for s in [
                &c.source_address,
                &c.destination_address,
                &c.nat_source_address,
                &c.nat_destination_address,
            ] {
                push_ip(s.as_deref(), keys);
            }
        }
        for c in &a.cloud_app_states {
            push_ip(c.destination_service_ip.as_deref(), keys);
        }
    }
    keys.sort_unstable();
    keys.dedup();
}

/// The first DNS label of a host name (`WS-1.corp.contoso.com.` → `WS-1`); `None` for an empty
/// name or an IP literal.
fn host_label(name: &str) -> Option<&str> {
    let name = name.trim().trim_end_matches('.');
    if name.is_empty() || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let label = name.split('.').next().unwrap_or(name);
    (!label.is_empty()).then_some(label)
}

/// The bare account name: `accountName` without `DOMAIN\` or `@suffix`, else the local part of
/// the UPN.
fn account_name(u: &crate::alert::UserSecurityState) -> Option<&str> {
    let from_account = u.account_name.as_deref().map(|a| {
        let a = a.trim();
        let a = a.rsplit('\\').next().unwrap_or(a);
        a.split('@').next().unwrap_or(a)
    });
    let from_upn = u
        .user_principal_name
        .as_deref()
        .map(|p| p.trim().split('@').next().unwrap_or(""));
    from_account
        .filter(|s| !s.is_empty())
        .or(from_upn.filter(|s| !s.is_empty()))
}

/// Parses an address that identifies something; `None` for what cannot (unspecified, loopback,
/// link-local, multicast, broadcast) or does not parse.
fn significant_ip(s: &str) -> Option<IpAddr> {
    let ip = s.trim().parse::<IpAddr>().ok()?.to_canonical();
    let ignored = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || match ip {
            IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_unicast_link_local(),
        };
    (!ignored).then_some(ip)
}

/// Hash of the trimmed, ASCII-lower-cased text.
fn hash_lower(scratch: &mut Vec<u8>, s: &str) -> u64 {
    scratch.clear();
    scratch.extend(s.trim().bytes().map(|b| b.to_ascii_lowercase()));
    let mut h = DefaultHasher::new();
    h.write(scratch);
    h.finish()
}

/// Hash of a category or title: lower-cased alphanumerics only (`Credential Access`,
/// `credentialAccess` and `credential_access` are one). `None` for what says nothing
/// (empty, `None`, `unknown`).
fn hash_label(scratch: &mut Vec<u8>, s: &str) -> Option<u64> {
    scratch.clear();
    scratch.extend(
        s.bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase()),
    );
    if !s.is_ascii() {
        // keep non-ASCII text distinguishable
        scratch.extend(s.bytes().filter(|b| !b.is_ascii()));
    }
    if scratch.is_empty() || scratch == b"none" || scratch == b"unknown" {
        return None;
    }
    let mut h = DefaultHasher::new();
    h.write(scratch);
    Some(h.finish())
}

fn combine(kind: u8, tenant: u64, a: u64, b: u64) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u8(kind);
    h.write_u64(tenant);
    h.write_u64(a);
    h.write_u64(b);
    h.finish()
}

// ---- step 3: candidate pairs ----------------------------------------------------------------

/// A candidate pair: `a < b` in canonical order, `dt` their event-time distance in ms.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    dt: u64,
    a: u32,
    b: u32,
}

/// Candidate pairs from the `(key, event time, index)` postings of every alert.
fn candidate_edges(
    mut postings: Vec<(u64, i64, u32)>,
    facts: &[Facts],
    rule: &FingerprintRule,
) -> Vec<Edge> {
    // Sorting groups each key's alerts, in time order.
    postings.sort_unstable();

    let window = i64::try_from(rule.window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut edges = Vec::with_capacity(postings.len());
    let mut start = 0;
    while start < postings.len() {
        let key = postings[start].0;
        let end = start + postings[start..].partition_point(|p| p.0 == key);
        let run = &postings[start..end];
        for (pos, &(_, t, i)) in run.iter().enumerate() {
            let earlier = run[..pos].iter().rev().take(rule.max_candidates_per_key);
            for &(_, u, j) in earlier {
                let dt = t.saturating_sub(u);
                if dt > window {
                    break;
                }
                if compatible(&facts[i as usize], &facts[j as usize], rule) {
                    edges.push(Edge {
                        dt: dt.unsigned_abs(),
                        a: i.min(j),
                        b: i.max(j),
                    });
                }
            }
        }
        start = end;
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// The pairwise test: different providers, same tenant (compared by hash of the lower-cased
/// id), compatible category and title.
fn compatible(a: &Facts, b: &Facts, rule: &FingerprintRule) -> bool {
    a.provider != b.provider
        && a.tenant == b.tenant
        && (!rule.require_compatible_category || labels_agree(a.category, b.category))
        && (!rule.require_same_title || labels_agree(a.title, b.title))
}

fn labels_agree(a: Option<u64>, b: Option<u64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

// ---- step 4: grouping -----------------------------------------------------------------------

/// Union-find whose roots remember what their group agrees on, so that a chain of pairwise
/// compatible alerts cannot build an incompatible group.
struct UnionFind {
    parent: Vec<u32>,
    category: Vec<Option<u64>>,
    title: Vec<Option<u64>>,
    /// Provider indices of the group's members (sorted, small).
    providers: Vec<Vec<u32>>,
}

impl UnionFind {
    fn new(facts: &[Facts]) -> Self {
        Self {
            parent: (0..facts.len() as u32).collect(),
            category: facts.iter().map(|f| f.category).collect(),
            title: facts.iter().map(|f| f.title).collect(),
            providers: facts.iter().map(|f| vec![f.provider]).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let grand = self.parent[self.parent[i] as usize];
            self.parent[i] = grand;
            i = grand as usize;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize, rule: &FingerprintRule) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if rule.require_compatible_category && !labels_agree(self.category[ra], self.category[rb]) {
            return;
        }
        if rule.require_same_title && !labels_agree(self.title[ra], self.title[rb]) {
            return;
        }
        if rule.one_alert_per_provider
            && self.providers[ra]
                .iter()
                .any(|p| self.providers[rb].binary_search(p).is_ok())
        {
            return;
        }
        // The smaller index stays root: deterministic, and roots are canonical.
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child] = root as u32;
        self.category[root] = self.category[root].or(self.category[child]);
        self.title[root] = self.title[root].or(self.title[child]);
        let moved = std::mem::take(&mut self.providers[child]);
        let set = &mut self.providers[root];
        set.extend(moved);
        set.sort_unstable();
        set.dedup();
    }
}

// ---- step 5: fold ---------------------------------------------------------------------------

fn severity_rank(s: AlertSeverity) -> u8 {
    match s {
        AlertSeverity::High => 4,
        AlertSeverity::Medium => 3,
        AlertSeverity::Low => 2,
        AlertSeverity::Informational => 1,
        AlertSeverity::Unknown | AlertSeverity::UnknownFutureValue => 0,
    }
}

fn status_rank(s: AlertStatus) -> u8 {
    match s {
        AlertStatus::Resolved => 4,
        AlertStatus::Dismissed => 3,
        AlertStatus::InProgress => 2,
        AlertStatus::NewAlert => 1,
        AlertStatus::Unknown | AlertStatus::UnknownFutureValue => 0,
    }
}

fn feedback_rank(f: Option<AlertFeedback>) -> u8 {
    match f {
        None => 0,
        Some(AlertFeedback::Unknown | AlertFeedback::UnknownFutureValue) => 1,
        Some(_) => 2,
    }
}

/// Which source a scalar came from, and whether the sources disagreed on it.
#[derive(Clone, Copy, Default)]
struct Pick {
    src: usize,
    differs: bool,
}

/// Takes `other` into `acc` when `better(acc, other)`; records disagreement.
fn pick<T: PartialEq>(
    acc: &mut T,
    other: T,
    src: usize,
    track: &mut Pick,
    better: impl Fn(&T, &T) -> bool,
) {
    if *acc != other {
        track.differs = true;
        if better(acc, &other) {
            *acc = other;
            track.src = src;
        }
    }
}

fn first_some<T>(acc: &Option<T>, other: &Option<T>) -> bool {
    acc.is_none() && other.is_some()
}

fn later<T: Ord>(acc: &Option<T>, other: &Option<T>) -> bool {
    match (acc, other) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => b > a,
        _ => false,
    }
}

fn earlier<T: Ord>(acc: &Option<T>, other: &Option<T>) -> bool {
    match (acc, other) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => b < a,
        _ => false,
    }
}

/// Appends the items of `other` that the earlier sources (`acc` as it was) do not hold; a
/// source's own repeats (Graph's `comments` can repeat) are kept.
fn union_into<T: PartialEq>(acc: &mut Vec<T>, other: Vec<T>) {
    let earlier = acc.len();
    acc.reserve(other.len());
    for x in other {
        if !acc[..earlier].contains(&x) {
            acc.push(x);
        }
    }
}

/// Folds one group (at least one source, in canonical order) into its unified alert, `id`.
fn fold(id: String, mut sources: Vec<SourcedAlert>) -> Alert {
    let sources_value = Value::Array(sources.iter().map(source_value).collect());

    if sources.len() == 1 {
        let mut alert = match sources.pop() {
            Some(s) => s.alert,
            None => Alert::default(),
        };
        alert
            .additional_data
            .insert(VIGIL_SOURCES.into(), sources_value);
        alert
            .additional_data
            .insert(VIGIL_FIELD_SOURCES.into(), Value::Object(Map::new()));
        return alert;
    }

    // Freshest first, then canonical order (sources arrive in canonical order; the sort is
    // stable).
    sources.sort_by(|a, b| {
        b.alert
            .last_modified_date_time
            .cmp(&a.alert.last_modified_date_time)
    });
    let mut providers: Vec<String> = Vec::with_capacity(sources.len());
    let mut iter = sources.into_iter();
    let Some(first) = iter.next() else {
        return Alert::default();
    };
    providers.push(first.provider);
    let mut acc = first.alert;
    let mut t = FieldPicks::default();

    for (n, s) in iter.enumerate() {
        let src = n + 1;
        providers.push(s.provider);
        let o = s.alert;
        pick(
            &mut acc.activity_group_name,
            o.activity_group_name,
            src,
            &mut t.activity_group_name,
            first_some,
        );
        pick(
            &mut acc.assigned_to,
            o.assigned_to,
            src,
            &mut t.assigned_to,
            first_some,
        );
        pick(
            &mut acc.azure_subscription_id,
            o.azure_subscription_id,
            src,
            &mut t.azure_subscription_id,
            first_some,
        );
        pick(
            &mut acc.category,
            o.category,
            src,
            &mut t.category,
            first_some,
        );
        pick(
            &mut acc.closed_date_time,
            o.closed_date_time,
            src,
            &mut t.closed_date_time,
            later::<Timestamp>,
        );
        pick(
            &mut acc.confidence,
            o.confidence,
            src,
            &mut t.confidence,
            later::<i32>,
        );
        pick(
            &mut acc.created_date_time,
            o.created_date_time,
            src,
            &mut t.created_date_time,
            earlier::<Timestamp>,
        );
        pick(
            &mut acc.description,
            o.description,
            src,
            &mut t.description,
            first_some,
        );
        pick(
            &mut acc.event_date_time,
            o.event_date_time,
            src,
            &mut t.event_date_time,
            earlier::<Timestamp>,
        );
        pick(
            &mut acc.feedback,
            o.feedback,
            src,
            &mut t.feedback,
            |a, b| feedback_rank(*b) > feedback_rank(*a),
        );
        pick(
            &mut acc.last_event_date_time,
            o.last_event_date_time,
            src,
            &mut t.last_event_date_time,
            later::<Timestamp>,
        );
        pick(
            &mut acc.last_modified_date_time,
            o.last_modified_date_time,
            src,
            &mut t.last_modified_date_time,
            later::<Timestamp>,
        );
        pick(
            &mut acc.severity,
            o.severity,
            src,
            &mut t.severity,
            |a, b| severity_rank(*b) > severity_rank(*a),
        );
        pick(&mut acc.status, o.status, src, &mut t.status, |a, b| {
            status_rank(*b) > status_rank(*a)
        });
        pick(&mut acc.title, o.title, src, &mut t.title, first_some);
        pick(
            &mut acc.vendor_information,
            o.vendor_information,
            src,
            &mut t.vendor_information,
            |_, _| false,
        );
        // azureTenantId is equal within a group (case aside); the freshest spelling stays.

        union_into(&mut acc.alert_detections, o.alert_detections);
        union_into(&mut acc.cloud_app_states, o.cloud_app_states);
        union_into(&mut acc.comments, o.comments);
        union_into(&mut acc.detection_ids, o.detection_ids);
        union_into(&mut acc.file_states, o.file_states);
        union_into(&mut acc.history_states, o.history_states);
        union_into(&mut acc.host_states, o.host_states);
        union_into(&mut acc.incident_ids, o.incident_ids);
        union_into(
            &mut acc.investigation_security_states,
            o.investigation_security_states,
        );
        union_into(&mut acc.malware_states, o.malware_states);
        union_into(&mut acc.message_security_states, o.message_security_states);
        union_into(&mut acc.network_connections, o.network_connections);
        union_into(&mut acc.processes, o.processes);
        union_into(&mut acc.recommended_actions, o.recommended_actions);
        union_into(&mut acc.registry_key_states, o.registry_key_states);
        union_into(&mut acc.security_resources, o.security_resources);
        union_into(&mut acc.source_materials, o.source_materials);
        union_into(&mut acc.tags, o.tags);
        union_into(&mut acc.triggers, o.triggers);
        union_into(
            &mut acc.uri_click_security_states,
            o.uri_click_security_states,
        );
        union_into(&mut acc.user_states, o.user_states);
        union_into(&mut acc.vulnerability_states, o.vulnerability_states);
        for (k, v) in o.additional_data {
            acc.additional_data.entry(k).or_insert(v);
        }
    }

    acc.id = id;
    acc.additional_data
        .insert(VIGIL_SOURCES.into(), sources_value);
    acc.additional_data
        .insert(VIGIL_FIELD_SOURCES.into(), t.to_value(&providers));
    acc
}

/// The [`Pick`] of every folded scalar, named as on the wire.
#[derive(Default)]
struct FieldPicks {
    activity_group_name: Pick,
    assigned_to: Pick,
    azure_subscription_id: Pick,
    category: Pick,
    closed_date_time: Pick,
    confidence: Pick,
    created_date_time: Pick,
    description: Pick,
    event_date_time: Pick,
    feedback: Pick,
    last_event_date_time: Pick,
    last_modified_date_time: Pick,
    severity: Pick,
    status: Pick,
    title: Pick,
    vendor_information: Pick,
}

impl FieldPicks {
    fn to_value(&self, providers: &[String]) -> Value {
        let all = [
            ("activityGroupName", self.activity_group_name),
            ("assignedTo", self.assigned_to),
            ("azureSubscriptionId", self.azure_subscription_id),
            ("category", self.category),
            ("closedDateTime", self.closed_date_time),
            ("confidence", self.confidence),
            ("createdDateTime", self.created_date_time),
            ("description", self.description),
            ("eventDateTime", self.event_date_time),
            ("feedback", self.feedback),
            ("lastEventDateTime", self.last_event_date_time),
            ("lastModifiedDateTime", self.last_modified_date_time),
            ("severity", self.severity),
            ("status", self.status),
            ("title", self.title),
            ("vendorInformation", self.vendor_information),
        ];
        let mut m = Map::new();
        for (name, p) in all {
            if p.differs
                && let Some(provider) = providers.get(p.src)
            {
                m.insert(name.into(), Value::String(provider.clone()));
            }
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn host_label_takes_the_first_dns_label() {
        assert_eq!(host_label("WS-1.corp.contoso.com"), Some("WS-1"));
        assert_eq!(host_label(" ws-1. "), Some("ws-1"));
        assert_eq!(host_label("WS-1"), Some("WS-1"));
        assert_eq!(host_label(""), None);
        assert_eq!(host_label("10.1.2.3"), None);
        assert_eq!(host_label("::1"), None);
        assert_eq!(host_label(".corp"), None);
    }

    #[test]
    fn account_name_strips_domain_forms() {
        let u = |account: Option<&str>, upn: Option<&str>| crate::alert::UserSecurityState {
            account_name: account.map(Into::into),
            user_principal_name: upn.map(Into::into),
            ..Default::default()
        };
        assert_eq!(account_name(&u(Some(r"CONTOSO\jdoe"), None)), Some("jdoe"));
        assert_eq!(
            account_name(&u(Some("jdoe@contoso.com"), None)),
            Some("jdoe")
        );
        assert_eq!(account_name(&u(Some(" jdoe "), None)), Some("jdoe"));
        assert_eq!(
            account_name(&u(None, Some("JDoe@contoso.com"))),
            Some("JDoe")
        );
        assert_eq!(account_name(&u(Some(""), Some("x@y"))), Some("x"));
        assert_eq!(account_name(&u(None, None)), None);
    }

    #[test]
    fn significant_ip_ignores_what_identifies_nothing() {
        for ignored in [
            "127.0.0.1",
            "0.0.0.0",
            "::",
            "::1",
            "169.254.1.1",
            "fe80::1",
            "224.0.0.1",
            "255.255.255.255",
            "not an ip",
            "10.0.0.1:443",
            "",
        ] {
            assert_eq!(significant_ip(ignored), None, "{ignored}");
        }
        assert_eq!(
            significant_ip("::ffff:10.1.2.3"),
            significant_ip(" 10.1.2.3 ")
        );
        assert_eq!(
            significant_ip("2001:DB8:0:0::1"),
            significant_ip("2001:db8::1")
        );
        assert!(significant_ip("203.0.113.7").is_some());
    }

    #[test]
    fn labels_normalise_case_and_punctuation() {
        let mut s = Vec::new();
        let a = hash_label(&mut s, "Credential Access");
        assert!(a.is_some());
        assert_eq!(hash_label(&mut s, "credentialAccess"), a);
        assert_eq!(hash_label(&mut s, "credential_access"), a);
        assert_ne!(hash_label(&mut s, "Malware"), a);
        for says_nothing in ["", "None", "unknown", " - "] {
            assert_eq!(hash_label(&mut s, says_nothing), None, "{says_nothing}");
        }
        assert_ne!(hash_label(&mut s, "Vírus"), hash_label(&mut s, "Vrus"));
    }

    #[test]
    fn unified_id_is_a_pure_function_of_the_source_set() {
        let a = unified_id([("mde", "1"), ("falcon", "x")]);
        assert_eq!(a, unified_id([("falcon", "x"), ("mde", "1"), ("mde", "1")]));
        assert_ne!(a, unified_id([("mde", "1"), ("falcon", "y")]));
        // length prefixes: shifting characters between provider and id changes the id
        assert_ne!(
            unified_id([("ab", "c"), ("x", "y")]),
            unified_id([("a", "bc"), ("x", "y")])
        );
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
        assert_eq!(a, a.to_lowercase());
    }

    #[test]
    fn namespace_is_the_documented_v5_uuid() {
        let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"urn:vigil:unified-alert");
        assert_eq!(ns, UNIFIED_ID_NAMESPACE);
    }

    #[test]
    fn union_find_refuses_incompatible_groups() {
        let facts = |category, provider| Facts {
            time: Some(0),
            tenant: 0,
            category,
            title: None,
            provider,
        };
        let rule = FingerprintRule::default();
        let mut uf = UnionFind::new(&[facts(Some(1), 0), facts(None, 1), facts(Some(2), 2)]);
        uf.union(0, 1, &rule);
        uf.union(1, 2, &rule); // 1 is now category 1 through its group
        assert_eq!(uf.find(0), uf.find(1));
        assert_ne!(uf.find(1), uf.find(2));

        let mut same_provider = UnionFind::new(&[facts(None, 0), facts(None, 1), facts(None, 0)]);
        same_provider.union(0, 1, &rule);
        same_provider.union(1, 2, &rule);
        assert_ne!(same_provider.find(2), same_provider.find(0));
        assert!(!compatible(&facts(None, 3), &facts(None, 3), &rule));
        assert!(compatible(&facts(None, 3), &facts(Some(9), 4), &rule));
    }
}
