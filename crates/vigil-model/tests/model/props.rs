//! Property tests: for every resource, with every nested type populated,
//! `parse(serialize(x)) == x` and serialization is stable.
//!
//! Two generator constraints mirror real limits rather than hide bugs:
//! - `f64` values (geoCoordinates, numbers in open-type extras) are finite decimals of at most
//!   10 significant digits, like real coordinates. serde_json (without its `float_roundtrip`
//!   feature, which the workspace does not enable) parses long mantissas best-effort and can be
//!   1 ULP off; NaN/∞ have no JSON form at all.
//! - keys of `additional_data` never collide with a declared property name (they start with `x`
//!   or `@odata.`): a colliding key would be emitted twice, which the model documents as the
//!   caller's error.

use chrono::DateTime;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use vigil_model::*;

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 ._:/@-]{0,12}",
        1 => "\\PC{0,8}",
        1 => Just(String::new()),
    ]
    .boxed()
}

fn os() -> BoxedStrategy<Option<String>> {
    option::of(text()).boxed()
}

fn strings() -> BoxedStrategy<Vec<String>> {
    vec(text(), 0..3).boxed()
}

/// Any instant from 1970 to 2100 at Graph's 100 ns precision.
fn ts() -> BoxedStrategy<Timestamp> {
    (0i64..4_102_444_800, 0u32..10_000_000)
        .prop_map(|(secs, hundreds)| {
            Timestamp::from_utc(DateTime::from_timestamp(secs, hundreds * 100).unwrap())
        })
        .boxed()
}

fn ots() -> BoxedStrategy<Option<Timestamp>> {
    option::of(ts()).boxed()
}

fn en<E: GraphEnum + std::fmt::Debug>() -> BoxedStrategy<E> {
    select(E::ALL).boxed()
}

fn oen<E: GraphEnum + std::fmt::Debug>() -> BoxedStrategy<Option<E>> {
    option::of(en::<E>()).boxed()
}

fn oi32() -> BoxedStrategy<Option<i32>> {
    option::of(any::<i32>()).boxed()
}

fn ob() -> BoxedStrategy<Option<bool>> {
    option::of(any::<bool>()).boxed()
}

fn decimal() -> BoxedStrategy<f64> {
    (-1_000_000_000i64..1_000_000_000, 0i32..8)
        .prop_map(|(m, e)| m as f64 / 10f64.powi(e))
        .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        decimal().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-zA-Z]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Undeclared properties: never a declared name of any resource.
fn extras() -> BoxedStrategy<Map<String, Value>> {
    vec(
        ("x[a-zA-Z0-9]{0,8}|@odata\\.[a-z]{1,8}", json_value()),
        0..3,
    )
    .prop_map(|kv| kv.into_iter().collect())
    .boxed()
}

fn file_hash() -> BoxedStrategy<FileHash> {
    (oen(), os())
        .prop_map(|(hash_type, hash_value)| FileHash {
            hash_type,
            hash_value,
        })
        .boxed()
}

fn vendor() -> BoxedStrategy<SecurityVendorInformation> {
    (os(), os(), os(), os())
        .prop_map(
            |(provider, provider_version, sub_provider, vendor)| SecurityVendorInformation {
                provider,
                provider_version,
                sub_provider,
                vendor,
            },
        )
        .boxed()
}

fn user_state() -> BoxedStrategy<UserSecurityState> {
    (
        (os(), os(), os(), oen(), ob(), ots(), os()),
        (os(), os(), oen(), os(), os(), oen(), os()),
    )
        .prop_map(
            |(
                (
                    aad_user_id,
                    account_name,
                    domain_name,
                    email_role,
                    is_vpn,
                    logon_date_time,
                    logon_id,
                ),
                (
                    logon_ip,
                    logon_location,
                    logon_type,
                    on_premises_security_identifier,
                    risk_score,
                    user_account_type,
                    user_principal_name,
                ),
            )| UserSecurityState {
                aad_user_id,
                account_name,
                domain_name,
                email_role,
                is_vpn,
                logon_date_time,
                logon_id,
                logon_ip,
                logon_location,
                logon_type,
                on_premises_security_identifier,
                risk_score,
                user_account_type,
                user_principal_name,
                vigil_user_risk: None,
            },
        )
        .boxed()
}

fn host_state() -> BoxedStrategy<HostSecurityState> {
    (os(), ob(), ob(), ob(), os(), os(), os(), os(), os())
        .prop_map(
            |(
                fqdn,
                is_azure_ad_joined,
                is_azure_ad_registered,
                is_hybrid_azure_domain_joined,
                net_bios_name,
                os,
                private_ip_address,
                public_ip_address,
                risk_score,
            )| HostSecurityState {
                fqdn,
                is_azure_ad_joined,
                is_azure_ad_registered,
                is_hybrid_azure_domain_joined,
                net_bios_name,
                os,
                private_ip_address,
                public_ip_address,
                risk_score,
            },
        )
        .boxed()
}

fn file_state() -> BoxedStrategy<FileSecurityState> {
    (option::of(file_hash()), os(), os(), os())
        .prop_map(|(file_hash, name, path, risk_score)| FileSecurityState {
            file_hash,
            name,
            path,
            risk_score,
        })
        .boxed()
}

fn process() -> BoxedStrategy<Process> {
    (
        (os(), os(), ots(), option::of(file_hash()), oen(), ob()),
        (os(), ots(), oi32(), os(), os(), oi32()),
    )
        .prop_map(
            |(
                (
                    account_name,
                    command_line,
                    created_date_time,
                    file_hash,
                    integrity_level,
                    is_elevated,
                ),
                (
                    name,
                    parent_process_created_date_time,
                    parent_process_id,
                    parent_process_name,
                    path,
                    process_id,
                ),
            )| Process {
                account_name,
                command_line,
                created_date_time,
                file_hash,
                integrity_level,
                is_elevated,
                name,
                parent_process_created_date_time,
                parent_process_id,
                parent_process_name,
                path,
                process_id,
            },
        )
        .boxed()
}

fn network_connection() -> BoxedStrategy<NetworkConnection> {
    (
        (os(), os(), os(), os(), os(), os(), oen(), ots(), os(), os()),
        (os(), os(), os(), oen(), os(), os(), os(), os(), oen(), os()),
    )
        .prop_map(
            |(
                (
                    application_name,
                    destination_address,
                    destination_domain,
                    destination_location,
                    destination_port,
                    destination_url,
                    direction,
                    domain_registered_date_time,
                    local_dns_name,
                    nat_destination_address,
                ),
                (
                    nat_destination_port,
                    nat_source_address,
                    nat_source_port,
                    protocol,
                    risk_score,
                    source_address,
                    source_location,
                    source_port,
                    status,
                    url_parameters,
                ),
            )| NetworkConnection {
                application_name,
                destination_address,
                destination_domain,
                destination_location,
                destination_port,
                destination_url,
                direction,
                domain_registered_date_time,
                local_dns_name,
                nat_destination_address,
                nat_destination_port,
                nat_source_address,
                nat_source_port,
                protocol,
                risk_score,
                source_address,
                source_location,
                source_port,
                status,
                url_parameters,
            },
        )
        .boxed()
}

fn malware_state() -> BoxedStrategy<MalwareState> {
    (os(), os(), os(), os(), ob())
        .prop_map(
            |(category, family, name, severity, was_running)| MalwareState {
                category,
                family,
                name,
                severity,
                was_running,
            },
        )
        .boxed()
}

fn cloud_app_state() -> BoxedStrategy<CloudAppSecurityState> {
    (os(), os(), os())
        .prop_map(
            |(destination_service_ip, destination_service_name, risk_score)| {
                CloudAppSecurityState {
                    destination_service_ip,
                    destination_service_name,
                    risk_score,
                }
            },
        )
        .boxed()
}

fn registry_key_state() -> BoxedStrategy<RegistryKeyState> {
    (
        oen(),
        os(),
        os(),
        os(),
        os(),
        oen(),
        oi32(),
        os(),
        os(),
        oen(),
    )
        .prop_map(
            |(
                hive,
                key,
                old_key,
                old_value_data,
                old_value_name,
                operation,
                process_id,
                value_data,
                value_name,
                value_type,
            )| RegistryKeyState {
                hive,
                key,
                old_key,
                old_value_data,
                old_value_name,
                operation,
                process_id,
                value_data,
                value_name,
                value_type,
            },
        )
        .boxed()
}

fn vulnerability_state() -> BoxedStrategy<VulnerabilityState> {
    (os(), os(), ob())
        .prop_map(|(cve, severity, was_running)| VulnerabilityState {
            cve,
            severity,
            was_running,
        })
        .boxed()
}

fn trigger() -> BoxedStrategy<AlertTrigger> {
    (os(), os(), os())
        .prop_map(|(name, r#type, value)| AlertTrigger {
            name,
            r#type,
            value,
        })
        .boxed()
}

fn security_resource() -> BoxedStrategy<SecurityResource> {
    (os(), oen())
        .prop_map(|(resource, resource_type)| SecurityResource {
            resource,
            resource_type,
        })
        .boxed()
}

fn history_state() -> BoxedStrategy<AlertHistoryState> {
    (os(), os(), strings(), oen(), oen(), ots(), os())
        .prop_map(
            |(app_id, assigned_to, comments, feedback, status, updated_date_time, user)| {
                AlertHistoryState {
                    app_id,
                    assigned_to,
                    comments,
                    feedback,
                    status,
                    updated_date_time,
                    user,
                }
            },
        )
        .boxed()
}

fn detection() -> BoxedStrategy<AlertDetection> {
    (os(), os(), os())
        .prop_map(|(detection_type, method, name)| AlertDetection {
            detection_type,
            method,
            name,
        })
        .boxed()
}

fn investigation() -> BoxedStrategy<InvestigationSecurityState> {
    (os(), os())
        .prop_map(|(name, status)| InvestigationSecurityState { name, status })
        .boxed()
}

fn message_state() -> BoxedStrategy<MessageSecurityState> {
    (os(), os(), os(), os(), os(), os(), ots(), os(), os())
        .prop_map(
            |(
                connecting_ip,
                delivery_action,
                delivery_location,
                directionality,
                internet_message_id,
                message_fingerprint,
                message_received_date_time,
                message_subject,
                network_message_id,
            )| MessageSecurityState {
                connecting_ip,
                delivery_action,
                delivery_location,
                directionality,
                internet_message_id,
                message_fingerprint,
                message_received_date_time,
                message_subject,
                network_message_id,
            },
        )
        .boxed()
}

fn uri_click_state() -> BoxedStrategy<UriClickSecurityState> {
    (os(), ots(), os(), os(), os(), os())
        .prop_map(
            |(click_action, click_date_time, id, source_id, uri_domain, verdict)| {
                UriClickSecurityState {
                    click_action,
                    click_date_time,
                    id,
                    source_id,
                    uri_domain,
                    verdict,
                }
            },
        )
        .boxed()
}

fn some<T: std::fmt::Debug + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    vec(s, 0..3).boxed()
}

/// An alert with every nested type in its collections (0–2 items each).
pub fn alert() -> BoxedStrategy<Alert> {
    (
        (
            text(),
            os(),
            some(detection()),
            os(),
            os(),
            text(),
            os(),
            ots(),
            some(cloud_app_state()),
            strings(),
        ),
        (
            oi32(),
            ots(),
            os(),
            strings(),
            ots(),
            oen(),
            some(file_state()),
            some(history_state()),
            some(host_state()),
            strings(),
        ),
        (
            some(investigation()),
            ots(),
            ots(),
            some(malware_state()),
            some(message_state()),
            some(network_connection()),
            some(process()),
            strings(),
            some(registry_key_state()),
            some(security_resource()),
        ),
        (
            en(),
            strings(),
            en(),
            strings(),
            os(),
            some(trigger()),
            some(uri_click_state()),
            some(user_state()),
            vendor(),
            some(vulnerability_state()),
        ),
        extras(),
    )
        .prop_map(
            |(
                (
                    id,
                    activity_group_name,
                    alert_detections,
                    assigned_to,
                    azure_subscription_id,
                    azure_tenant_id,
                    category,
                    closed_date_time,
                    cloud_app_states,
                    comments,
                ),
                (
                    confidence,
                    created_date_time,
                    description,
                    detection_ids,
                    event_date_time,
                    feedback,
                    file_states,
                    history_states,
                    host_states,
                    incident_ids,
                ),
                (
                    investigation_security_states,
                    last_event_date_time,
                    last_modified_date_time,
                    malware_states,
                    message_security_states,
                    network_connections,
                    processes,
                    recommended_actions,
                    registry_key_states,
                    security_resources,
                ),
                (
                    severity,
                    source_materials,
                    status,
                    tags,
                    title,
                    triggers,
                    uri_click_security_states,
                    user_states,
                    vendor_information,
                    vulnerability_states,
                ),
                additional_data,
            )| Alert {
                id,
                activity_group_name,
                alert_detections,
                assigned_to,
                azure_subscription_id,
                azure_tenant_id,
                category,
                closed_date_time,
                cloud_app_states,
                comments,
                confidence,
                created_date_time,
                description,
                detection_ids,
                event_date_time,
                feedback,
                file_states,
                history_states,
                host_states,
                incident_ids,
                investigation_security_states,
                last_event_date_time,
                last_modified_date_time,
                malware_states,
                message_security_states,
                network_connections,
                processes,
                recommended_actions,
                registry_key_states,
                security_resources,
                severity,
                source_materials,
                status,
                tags,
                title,
                triggers,
                uri_click_security_states,
                user_states,
                vendor_information,
                vulnerability_states,
                additional_data,
            },
        )
        .boxed()
}

fn risky_user() -> BoxedStrategy<RiskyUser> {
    (
        text(),
        ob(),
        ob(),
        oen(),
        ots(),
        oen(),
        oen(),
        os(),
        os(),
        extras(),
    )
        .prop_map(
            |(
                id,
                is_deleted,
                is_processing,
                risk_detail,
                risk_last_updated_date_time,
                risk_level,
                risk_state,
                user_display_name,
                user_principal_name,
                additional_data,
            )| RiskyUser {
                id,
                is_deleted,
                is_processing,
                risk_detail,
                risk_last_updated_date_time,
                risk_level,
                risk_state,
                user_display_name,
                user_principal_name,
                additional_data,
            },
        )
        .boxed()
}

fn activity() -> BoxedStrategy<RiskUserActivity> {
    (oen(), strings())
        .prop_map(|(detail, risk_event_types)| RiskUserActivity {
            detail,
            risk_event_types,
        })
        .boxed()
}

fn history_item() -> BoxedStrategy<RiskyUserHistoryItem> {
    (risky_user(), option::of(activity()), os(), os())
        .prop_map(
            |(u, activity, initiated_by, user_id)| RiskyUserHistoryItem {
                id: u.id,
                is_deleted: u.is_deleted,
                is_processing: u.is_processing,
                risk_detail: u.risk_detail,
                risk_last_updated_date_time: u.risk_last_updated_date_time,
                risk_level: u.risk_level,
                risk_state: u.risk_state,
                user_display_name: u.user_display_name,
                user_principal_name: u.user_principal_name,
                activity,
                initiated_by,
                user_id,
                additional_data: u.additional_data,
            },
        )
        .boxed()
}

fn location() -> BoxedStrategy<SignInLocation> {
    let coords = (
        option::of(decimal()),
        option::of(decimal()),
        option::of(decimal()),
    )
        .prop_map(|(altitude, latitude, longitude)| GeoCoordinates {
            altitude,
            latitude,
            longitude,
        });
    (os(), os(), option::of(coords), os())
        .prop_map(
            |(city, country_or_region, geo_coordinates, state)| SignInLocation {
                city,
                country_or_region,
                geo_coordinates,
                state,
            },
        )
        .boxed()
}

fn risk_detection() -> BoxedStrategy<RiskDetection> {
    (
        (
            text(),
            oen(),
            ots(),
            os(),
            os(),
            ots(),
            oen(),
            os(),
            ots(),
            option::of(location()),
        ),
        (
            os(),
            oen(),
            os(),
            oen(),
            oen(),
            os(),
            oen(),
            os(),
            os(),
            os(),
        ),
        extras(),
    )
        .prop_map(
            |(
                (
                    id,
                    activity,
                    activity_date_time,
                    additional_info,
                    correlation_id,
                    detected_date_time,
                    detection_timing_type,
                    ip_address,
                    last_updated_date_time,
                    location,
                ),
                (
                    request_id,
                    risk_detail,
                    risk_event_type,
                    risk_level,
                    risk_state,
                    source,
                    token_issuer_type,
                    user_display_name,
                    user_id,
                    user_principal_name,
                ),
                additional_data,
            )| RiskDetection {
                id,
                activity,
                activity_date_time,
                additional_info,
                correlation_id,
                detected_date_time,
                detection_timing_type,
                ip_address,
                last_updated_date_time,
                location,
                request_id,
                risk_detail,
                risk_event_type,
                risk_level,
                risk_state,
                source,
                token_issuer_type,
                user_display_name,
                user_id,
                user_principal_name,
                additional_data,
            },
        )
        .boxed()
}

/// parse(serialize(x)) == x, and serialize(parse(serialize(x))) == serialize(x) byte for byte.
fn assert_round_trip<T>(x: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(x).unwrap();
    let back: T =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, x);
    prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn alert_round_trips(a in alert()) {
        assert_round_trip(&a)?;
        // the declared properties always come first, all of them, in wire order
        let v = serde_json::to_value(&a).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        prop_assert_eq!(&keys[..40], &Alert::PROPERTY_NAMES[..]);
        prop_assert_eq!(keys.len(), 40 + a.additional_data.len());
    }

    #[test]
    fn alert_round_trips_through_value(a in alert()) {
        // the `flatten` path buffers differently when reading from a Value
        let v = serde_json::to_value(&a).unwrap();
        let back: Alert = serde_json::from_value(v.clone()).unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(serde_json::to_value(&back).unwrap(), v);
    }

    #[test]
    fn risky_user_round_trips(u in risky_user()) {
        assert_round_trip(&u)?;
    }

    #[test]
    fn risky_user_history_item_round_trips(h in history_item()) {
        assert_round_trip(&h)?;
    }

    #[test]
    fn risk_detection_round_trips(d in risk_detection()) {
        assert_round_trip(&d)?;
    }

    #[test]
    fn hiding_evolvable_members_is_idempotent_and_round_trips(mut d in risk_detection()) {
        d.hide_evolvable_members();
        let once = d.clone();
        d.hide_evolvable_members();
        prop_assert_eq!(&d, &once);
        for e in [d.activity.map(|e| e.is_evolvable()), d.risk_detail.map(|e| e.is_evolvable()),
                  d.token_issuer_type.map(|e| e.is_evolvable())] {
            prop_assert_ne!(e, Some(true));
        }
        assert_round_trip(&d)?;
    }

    #[test]
    fn timestamp_round_trips(t in ts()) {
        let wire = t.to_wire();
        prop_assert!(wire.ends_with('Z'));
        prop_assert!(!wire.contains(".") || !wire.trim_end_matches('Z').ends_with('0'));
        prop_assert_eq!(Timestamp::parse(&wire).unwrap(), t);
        // the same instant written with an offset reads the same
        let shifted = t.0.with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap());
        prop_assert_eq!(Timestamp::parse(&shifted.to_rfc3339()).unwrap(), t);
    }

    #[test]
    fn enum_input_is_case_insensitive(m in en::<RiskDetail>(), upper in any::<bool>()) {
        let s = if upper {
            m.as_str().to_ascii_uppercase()
        } else {
            m.as_str().to_ascii_lowercase()
        };
        prop_assert_eq!(RiskDetail::from_wire(&s), m);
    }
}
