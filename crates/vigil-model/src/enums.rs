//! Graph enumerations with their exact wire strings.
//!
//! Why a macro instead of `#[derive(Deserialize)]` with `rename_all`: Graph clients send enum
//! values in any casing (`NewAlert`, `newalert`; Microsoft's own samples do), and a value this
//! build does not know must not fail the whole alert. Graph's rule for that case is the
//! `unknownFutureValue` sentinel, so every unknown string deserializes to it. Output is always the
//! canonical camelCase (or, for `tokenIssuerType`, PascalCase) wire string.
//!
//! *Evolvable* members are the ones after `unknownFutureValue` in the CSDL. Graph only sends them
//! to callers that opt in with `Prefer: include-unknown-enum-members`; [`GraphEnum::hide_evolvable`]
//! gives what everybody else must see.

use std::fmt;

/// Behaviour shared by every Graph enumeration.
pub trait GraphEnum: Sized + Copy + 'static {
    /// Every member, in CSDL order (evolvable members last).
    const ALL: &'static [Self];
    /// The canonical wire string.
    fn as_str(self) -> &'static str;
    /// The `unknownFutureValue` sentinel.
    fn unknown_future_value() -> Self;
    /// Whether this member comes after `unknownFutureValue` in the CSDL.
    fn is_evolvable(self) -> bool;

    /// Case-insensitive lookup; `None` when no member has that name.
    fn parse_exact(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    /// Lenient lookup used for every input: unknown names become `unknownFutureValue`.
    fn from_wire(s: &str) -> Self {
        Self::parse_exact(s).unwrap_or_else(Self::unknown_future_value)
    }

    /// What a caller without `Prefer: include-unknown-enum-members` sees.
    fn hide_evolvable(self) -> Self {
        if self.is_evolvable() {
            Self::unknown_future_value()
        } else {
            self
        }
    }
}

/// OpenAPI schemas of the enumerations (feature `openapi`), used by [`graph_enum!`].
#[cfg(feature = "openapi")]
mod openapi {
    use super::GraphEnum;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

    /// Graph's name of the type whose Rust name is `rust_name`: `AlertSeverity` →
    /// `microsoft.graph.alertSeverity`.
    pub(super) fn graph_type_name(rust_name: &str) -> String {
        let mut chars = rust_name.chars();
        let first = chars.next().map(|c| c.to_ascii_lowercase());
        format!(
            "microsoft.graph.{}{}",
            first.into_iter().collect::<String>(),
            chars.as_str()
        )
    }

    /// A string enum of every wire value, in CSDL order.
    pub(super) fn string_enum<E: GraphEnum>(rust_name: &str) -> RefOr<Schema> {
        let name = graph_type_name(rust_name);
        let graph = name.trim_start_matches("microsoft.graph.");
        let mut description = format!(
            "Graph `{graph}`. Emitted exactly as listed; accepted on input in any casing, and a \
             value this gateway does not know reads as `{}`.",
            E::unknown_future_value().as_str()
        );
        if E::ALL.iter().any(|m| m.is_evolvable()) {
            description.push_str(
                " Members after the `unknownFutureValue` sentinel are evolvable: they are sent \
                 only to callers that send `Prefer: include-unknown-enum-members`.",
            );
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .title(Some(graph))
            .description(Some(description))
            .enum_values(Some(E::ALL.iter().map(|m| m.as_str())))
            .into()
    }
}

macro_rules! graph_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($variant:ident => $wire:literal),+ $(,)?
        }
        sentinel $sentinel:ident => $sentinel_wire:literal
        $(evolvable { $($evar:ident => $ewire:literal),+ $(,)? })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            #[default]
            $($variant,)+
            $sentinel,
            $($($evar,)+)?
        }

        impl GraphEnum for $name {
            const ALL: &'static [Self] = &[$(Self::$variant,)+ Self::$sentinel, $($(Self::$evar,)+)?];

            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::$sentinel => $sentinel_wire,
                    $($(Self::$evar => $ewire,)+)?
                }
            }

            fn unknown_future_value() -> Self {
                Self::$sentinel
            }

            fn is_evolvable(self) -> bool {
                match self {
                    $($(Self::$evar => true,)+)?
                    _ => false,
                }
            }
        }

        impl $name {
            /// The canonical wire string.
            pub fn as_str(self) -> &'static str {
                GraphEnum::as_str(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(GraphEnum::as_str(*self))
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            /// Lenient: never fails, unknown names become `unknownFutureValue`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(<Self as GraphEnum>::from_wire(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(GraphEnum::as_str(*self))
            }
        }

        // OpenAPI: a string enum of the exact wire values, named `microsoft.graph.<name>`.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                openapi::string_enum::<Self>(stringify!($name))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                openapi::graph_type_name(stringify!($name)).into()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} string", stringify!($name))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(<$name as GraphEnum>::from_wire(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

graph_enum! {
    /// `alertSeverity`.
    AlertSeverity {
        Unknown => "unknown", Informational => "informational", Low => "low",
        Medium => "medium", High => "high",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `alertStatus` (the docs omit `dismissed`; the CSDL has it).
    AlertStatus {
        Unknown => "unknown", NewAlert => "newAlert", InProgress => "inProgress",
        Resolved => "resolved", Dismissed => "dismissed",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `alertFeedback`.
    AlertFeedback {
        Unknown => "unknown", TruePositive => "truePositive", FalsePositive => "falsePositive",
        BenignPositive => "benignPositive",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `connectionDirection`.
    ConnectionDirection { Unknown => "unknown", Inbound => "inbound", Outbound => "outbound" }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `connectionStatus`.
    ConnectionStatus {
        Unknown => "unknown", Attempted => "attempted", Succeeded => "succeeded",
        Blocked => "blocked", Failed => "failed",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `emailRole`.
    EmailRole { Unknown => "unknown", Sender => "sender", Recipient => "recipient" }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `fileHashType` (CSDL members; the docs' `peSha1`/`peSha256` are not in the CSDL or SDK).
    FileHashType {
        Unknown => "unknown", Sha1 => "sha1", Sha256 => "sha256", Md5 => "md5",
        AuthenticodeHash256 => "authenticodeHash256", LsHash => "lsHash", Ctph => "ctph",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `logonType`.
    LogonType {
        Unknown => "unknown", Interactive => "interactive", RemoteInteractive => "remoteInteractive",
        Network => "network", Batch => "batch", Service => "service",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `processIntegrityLevel`.
    ProcessIntegrityLevel {
        Unknown => "unknown", Untrusted => "untrusted", Low => "low", Medium => "medium",
        High => "high", System => "system",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `registryHive`.
    RegistryHive {
        Unknown => "unknown", CurrentConfig => "currentConfig", CurrentUser => "currentUser",
        LocalMachineSam => "localMachineSam", LocalMachineSecurity => "localMachineSecurity",
        LocalMachineSoftware => "localMachineSoftware", LocalMachineSystem => "localMachineSystem",
        UsersDefault => "usersDefault",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `registryOperation`.
    RegistryOperation {
        Unknown => "unknown", Create => "create", Modify => "modify", Delete => "delete",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `registryValueType` (`qwordlittleEndian` is spelled with a lower-case `l` in the CSDL).
    RegistryValueType {
        Unknown => "unknown", Binary => "binary", Dword => "dword",
        DwordLittleEndian => "dwordLittleEndian", DwordBigEndian => "dwordBigEndian",
        ExpandSz => "expandSz", Link => "link", MultiSz => "multiSz", None => "none",
        Qword => "qword", QwordlittleEndian => "qwordlittleEndian", Sz => "sz",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `securityNetworkProtocol`. The CSDL gives numeric values, but the wire carries names.
    SecurityNetworkProtocol {
        Unknown => "unknown", Ip => "ip", Icmp => "icmp", Igmp => "igmp", Ggp => "ggp",
        Ipv4 => "ipv4", Tcp => "tcp", Pup => "pup", Udp => "udp", Idp => "idp", Ipv6 => "ipv6",
        Ipv6RoutingHeader => "ipv6RoutingHeader", Ipv6FragmentHeader => "ipv6FragmentHeader",
        IpSecEncapsulatingSecurityPayload => "ipSecEncapsulatingSecurityPayload",
        IpSecAuthenticationHeader => "ipSecAuthenticationHeader", IcmpV6 => "icmpV6",
        Ipv6NoNextHeader => "ipv6NoNextHeader", Ipv6DestinationOptions => "ipv6DestinationOptions",
        Nd => "nd", Raw => "raw", Ipx => "ipx", Spx => "spx", SpxIi => "spxII",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `securityResourceType`.
    SecurityResourceType { Unknown => "unknown", Attacked => "attacked", Related => "related" }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `userAccountSecurityType`.
    UserAccountSecurityType {
        Unknown => "unknown", Standard => "standard", Power => "power",
        Administrator => "administrator",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

// ---- identity protection -------------------------------------------------------------------

graph_enum! {
    /// `riskLevel`.
    RiskLevel { Low => "low", Medium => "medium", High => "high", Hidden => "hidden", None => "none" }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `riskState`.
    RiskState {
        None => "none", ConfirmedSafe => "confirmedSafe", Remediated => "remediated",
        Dismissed => "dismissed", AtRisk => "atRisk", ConfirmedCompromised => "confirmedCompromised",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `riskDetail` (evolvable).
    RiskDetail {
        None => "none",
        AdminGeneratedTemporaryPassword => "adminGeneratedTemporaryPassword",
        UserPerformedSecuredPasswordChange => "userPerformedSecuredPasswordChange",
        UserPerformedSecuredPasswordReset => "userPerformedSecuredPasswordReset",
        AdminConfirmedSigninSafe => "adminConfirmedSigninSafe",
        AiConfirmedSigninSafe => "aiConfirmedSigninSafe",
        UserPassedMfaDrivenByRiskBasedPolicy => "userPassedMFADrivenByRiskBasedPolicy",
        AdminDismissedAllRiskForUser => "adminDismissedAllRiskForUser",
        AdminConfirmedSigninCompromised => "adminConfirmedSigninCompromised",
        Hidden => "hidden",
        AdminConfirmedUserCompromised => "adminConfirmedUserCompromised",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
    evolvable {
        M365DAdminDismissedDetection => "m365DAdminDismissedDetection",
        AdminConfirmedServicePrincipalCompromised => "adminConfirmedServicePrincipalCompromised",
        AdminDismissedAllRiskForServicePrincipal => "adminDismissedAllRiskForServicePrincipal",
        UserChangedPasswordOnPremises => "userChangedPasswordOnPremises",
        AdminDismissedRiskForSignIn => "adminDismissedRiskForSignIn",
        AdminConfirmedAccountSafe => "adminConfirmedAccountSafe",
        MicrosoftRevokedSessions => "microsoftRevokedSessions",
    }
}

graph_enum! {
    /// `riskDetectionTimingType`.
    RiskDetectionTimingType {
        NotDefined => "notDefined", Realtime => "realtime", NearRealtime => "nearRealtime",
        Offline => "offline",
    }
    sentinel UnknownFutureValue => "unknownFutureValue"
}

graph_enum! {
    /// `activityType` (evolvable).
    ActivityType { Signin => "signin", User => "user" }
    sentinel UnknownFutureValue => "unknownFutureValue"
    evolvable { ServicePrincipal => "servicePrincipal" }
}

graph_enum! {
    /// `tokenIssuerType` (evolvable; PascalCase on the wire, sentinel included).
    TokenIssuerType { AzureAd => "AzureAD", AdFederationServices => "ADFederationServices" }
    sentinel UnknownFutureValue => "UnknownFutureValue"
    evolvable {
        AzureAdBackupAuth => "AzureADBackupAuth",
        AdFederationServicesMfaAdapter => "ADFederationServicesMFAAdapter",
        NpsExtension => "NPSExtension",
    }
}
