//! Projections: only the top-level properties a `$filter` or `$orderby` reads, serialized
//! straight from the typed resource.
//!
//! [`Filter::matches`] and [`OrderBy`] evaluate a resource's JSON form. Serializing a whole
//! alert (about forty properties, nested collections, some 4 KB of JSON) to a
//! `serde_json::Value` costs about as much as parsing it, while a filter on `status` and
//! `severity` reads two strings: measured on 100k merged alerts (`benches/merge.rs`), the full
//! conversion was most of the time of merge + filter + sort. [`Projection::apply`] serializes
//! the named properties only, through the resource's own `Serialize` (so each one is exactly what
//! `serde_json::to_value` would give), into an object holding just them. Evaluating the filter
//! or the order on it gives the same answer as on the whole resource, because neither looks
//! outside the properties its paths start with.

use super::filter::{Expr, Filter, Root};
use super::orderby::OrderBy;
use serde::Serialize;
use serde::ser::{self, Impossible, SerializeMap, SerializeStruct};
use serde_json::{Map, Value};

/// The top-level properties some query options read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    names: Vec<&'static str>,
    /// A path reads the resource itself (`$it`): nothing can be left out.
    whole: bool,
    /// Instance annotations (`@`-keys) are kept too (`$select` keeps them).
    annotations: bool,
}

impl Projection {
    /// Every property (the resource as `serde_json::to_value` gives it).
    pub fn whole() -> Self {
        Self {
            names: Vec::new(),
            whole: true,
            annotations: false,
        }
    }

    /// Just these top-level properties.
    pub fn of(names: &[&'static str]) -> Self {
        let mut p = Self::default();
        for n in names {
            p.add(n);
        }
        p
    }

    /// The properties either projection reads.
    pub fn union(mut self, other: &Projection) -> Self {
        self.whole |= other.whole;
        self.annotations |= other.annotations;
        for n in &other.names {
            if !self.names.contains(n) {
                self.names.push(n);
            }
        }
        self
    }

    /// The property names (empty when [`Projection::is_whole`]).
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub fn is_whole(&self) -> bool {
        self.whole
    }

    fn add(&mut self, name: &'static str) {
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// `item`'s JSON form restricted to the projected top-level properties. A resource that
    /// does not serialize as an object, and a whole projection, give the full
    /// `serde_json::to_value` (`Value::Null` if that fails, as the gateway treats it).
    pub fn apply<T: Serialize + ?Sized>(&self, item: &T) -> Value {
        if !self.whole
            && let Ok(v) = item.serialize(Top {
                names: &self.names,
                annotations: self.annotations,
            })
        {
            return v;
        }
        serde_json::to_value(item).unwrap_or(Value::Null)
    }
}

impl Filter {
    /// The top-level properties the filter reads.
    pub fn projection(&self) -> Projection {
        let mut p = Projection::default();
        collect(&self.expr, &mut p);
        p
    }
}

/// A filter with its projection, made once to test many resources.
pub struct ItemFilter<'a> {
    filter: &'a Filter,
    projection: Projection,
}

impl Filter {
    /// This filter, ready to test typed resources ([`ItemFilter::matches`]).
    pub fn for_items(&self) -> ItemFilter<'_> {
        ItemFilter {
            filter: self,
            projection: self.projection(),
        }
    }
}

impl ItemFilter<'_> {
    /// Whether `item` satisfies the filter, evaluated on the properties the filter reads (the
    /// same answer as on the whole resource's JSON).
    pub fn matches<T: Serialize + ?Sized>(&self, item: &T) -> bool {
        self.filter.matches(&self.projection.apply(item))
    }
}

impl super::select::Select {
    /// What [`Select::apply`](super::select::Select::apply) keeps: the selected properties,
    /// `id` and instance annotations. Selecting from the projection gives what selecting from
    /// the whole resource gives.
    pub fn projection(&self) -> Projection {
        let mut p = Projection::of(self.names());
        p.add("id");
        p.annotations = true;
        p
    }
}

impl OrderBy {
    /// The top-level properties the order reads.
    pub fn projection(&self) -> Projection {
        let mut p = Projection::default();
        for first in self.first_properties() {
            p.add(first);
        }
        p
    }
}

fn collect(e: &Expr, p: &mut Projection) {
    let mut path = |path: &super::filter::Path| {
        if path.root == Root::It {
            match path.props.first() {
                Some(prop) => p.add(prop.name),
                None => p.whole = true,
            }
        }
    };
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| collect(e, p)),
        Expr::Not(e) => collect(e, p),
        Expr::Cmp { path: x, .. } | Expr::In { path: x, .. } | Expr::Func { path: x, .. } => {
            path(x)
        }
        Expr::Lambda { path: x, body, .. } => {
            path(x);
            // The body's paths start at the lambda variable (inside `x`), except paths that
            // start at `$it` again.
            if let Some((_, body)) = body {
                collect(body, p);
            }
        }
    }
}

/// Why a resource could not be projected (it is not a struct or a map); the caller falls back
/// to the full conversion.
#[derive(Debug)]
struct NotAnObject;

impl std::fmt::Display for NotAnObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not an object")
    }
}

impl std::error::Error for NotAnObject {}

impl ser::Error for NotAnObject {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        NotAnObject
    }
}

/// Serializes a struct or map, keeping only the named top-level entries.
struct Top<'a> {
    names: &'a [&'static str],
    annotations: bool,
}

struct TopObject<'a> {
    names: &'a [&'static str],
    annotations: bool,
    map: Map<String, Value>,
    /// The key of the map entry being serialized, when it is kept.
    pending: Option<String>,
}

impl TopObject<'_> {
    fn kept(&self, key: &str) -> bool {
        self.names.contains(&key) || (self.annotations && key.starts_with('@'))
    }

    fn keep<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> Result<(), NotAnObject> {
        if self.kept(key) {
            let v = serde_json::to_value(value).map_err(|_| NotAnObject)?;
            self.map.insert(key.to_owned(), v);
        }
        Ok(())
    }
}

impl SerializeStruct for TopObject<'_> {
    type Ok = Value;
    type Error = NotAnObject;

    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), NotAnObject> {
        self.keep(key, value)
    }

    fn end(self) -> Result<Value, NotAnObject> {
        Ok(Value::Object(self.map))
    }
}

impl SerializeMap for TopObject<'_> {
    type Ok = Value;
    type Error = NotAnObject;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), NotAnObject> {
        self.pending = match serde_json::to_value(key) {
            Ok(Value::String(k)) if self.kept(&k) => Some(k),
            _ => None,
        };
        Ok(())
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), NotAnObject> {
        if let Some(k) = self.pending.take() {
            let v = serde_json::to_value(value).map_err(|_| NotAnObject)?;
            self.map.insert(k, v);
        }
        Ok(())
    }

    fn end(self) -> Result<Value, NotAnObject> {
        Ok(Value::Object(self.map))
    }
}

macro_rules! not_an_object {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Value, NotAnObject> {
            Err(NotAnObject)
        })*
    };
}

impl<'a> ser::Serializer for Top<'a> {
    type Ok = Value;
    type Error = NotAnObject;
    type SerializeSeq = Impossible<Value, NotAnObject>;
    type SerializeTuple = Impossible<Value, NotAnObject>;
    type SerializeTupleStruct = Impossible<Value, NotAnObject>;
    type SerializeTupleVariant = Impossible<Value, NotAnObject>;
    type SerializeMap = TopObject<'a>;
    type SerializeStruct = TopObject<'a>;
    type SerializeStructVariant = Impossible<Value, NotAnObject>;

    not_an_object!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, NotAnObject> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, NotAnObject> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value, NotAnObject> {
        Err(NotAnObject)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, NotAnObject> {
        Err(NotAnObject)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, NotAnObject> {
        Err(NotAnObject)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAnObject> {
        Err(NotAnObject)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAnObject> {
        Err(NotAnObject)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<TopObject<'a>, NotAnObject> {
        Ok(TopObject {
            names: self.names,
            annotations: self.annotations,
            map: Map::new(),
            pending: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<TopObject<'a>, NotAnObject> {
        Ok(TopObject {
            names: self.names,
            annotations: self.annotations,
            map: Map::new(),
            pending: None,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, NotAnObject> {
        Err(NotAnObject)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::Alert;
    use crate::query::{ALERT, parse_filter, parse_orderby};

    fn alerts() -> Vec<Alert> {
        let full: Alert =
            serde_json::from_str(include_str!("../../tests/fixtures/full_alert.json")).unwrap();
        let mut out = vec![full.clone(), Alert::default()];
        for (i, sev) in ["low", "high", "medium"].iter().enumerate() {
            let mut v = serde_json::to_value(&full).unwrap();
            v["severity"] = Value::String((*sev).into());
            v["title"] = Value::String(format!("Alert {i}"));
            v["createdDateTime"] = Value::String(format!("2026-10-0{}T00:00:00Z", i + 1));
            v["customExtension"] = Value::String(format!("x{i}"));
            out.push(serde_json::from_value(v).unwrap());
        }
        out
    }

    #[test]
    fn filters_agree_on_the_projection_and_the_whole_alert() {
        let filters = [
            "severity eq 'high'",
            "status in ('newAlert','inProgress') and createdDateTime ge 2026-10-02T00:00:00Z",
            "vendorInformation/provider eq 'Microsoft Defender ATP'",
            "userStates/any(u: endswith(u/userPrincipalName,'@contoso.com'))",
            "hostStates/any(h: startswith(h/fqdn,'ws') and $it/severity eq 'high')",
            "not (title eq 'Alert 1' or contains(title,'2'))",
            "tags/any()",
        ];
        for text in filters {
            let f = parse_filter(text, &ALERT).unwrap();
            let p = f.projection();
            assert!(!p.is_whole(), "{text}");
            for a in alerts() {
                let whole = serde_json::to_value(&a).unwrap();
                let part = p.apply(&a);
                assert_eq!(f.matches(&part), f.matches(&whole), "{text}");
                assert_eq!(f.for_items().matches(&a), f.matches(&whole), "{text}");
                let obj = part.as_object().unwrap();
                assert!(obj.len() <= p.names().len(), "{text}: {obj:?}");
                for (k, v) in obj {
                    assert_eq!(Some(v), whole.get(k), "{text}: {k}");
                }
            }
        }
    }

    #[test]
    fn projection_names_the_paths_first_properties() {
        let f = parse_filter(
            "severity eq 'high' and userStates/any(u: u/isVpn eq true) and vendorInformation/vendor eq 'x'",
            &ALERT,
        )
        .unwrap();
        let mut names = f.projection().names().to_vec();
        names.sort_unstable();
        assert_eq!(names, ["severity", "userStates", "vendorInformation"]);
        let o = parse_orderby("createdDateTime desc,vendorInformation/provider", &ALERT).unwrap();
        let both = f.projection().union(&o.projection());
        assert_eq!(both.names().len(), 4);
        assert!(Projection::whole().union(&both).is_whole());
    }

    #[test]
    fn orders_agree_on_the_projection_and_the_whole_alert() {
        for text in [
            "severity desc,createdDateTime desc",
            "title,id",
            "vendorInformation/provider desc",
        ] {
            let o = parse_orderby(text, &ALERT).unwrap();
            let p = o.projection();
            let all = alerts();
            let whole: Vec<Value> = all
                .iter()
                .map(|a| serde_json::to_value(a).unwrap())
                .collect();
            let part: Vec<Value> = all.iter().map(|a| p.apply(a)).collect();
            assert_eq!(o.sorted_indices(&part), o.sorted_indices(&whole), "{text}");
        }
    }

    #[test]
    fn selecting_from_the_projection_is_selecting_from_the_whole_alert() {
        let mut all = alerts();
        // Instance annotations an upstream left on the alert are kept by `$select`.
        let mut v = serde_json::to_value(&all[0]).unwrap();
        v["@odata.type"] = Value::String("#microsoft.graph.alert".into());
        all.push(serde_json::from_value(v).unwrap());
        for text in ["title", "severity,userStates", "id,assignedTo", "*"] {
            let sel = crate::query::parse_select(text, &ALERT).unwrap();
            let p = sel.projection();
            for a in &all {
                let mut whole = serde_json::to_value(a).unwrap();
                sel.apply(&mut whole);
                let mut part = p.apply(a);
                sel.apply(&mut part);
                assert_eq!(part, whole, "{text}");
            }
        }
    }

    #[test]
    fn undeclared_properties_are_projected_and_non_objects_fall_back() {
        let a = &alerts()[2];
        let p = Projection::of(&["customExtension", "severity"]);
        let v = p.apply(a);
        assert_eq!(v["customExtension"], "x0");
        assert_eq!(v["severity"], "low");
        assert_eq!(p.apply(&vec![1, 2]), serde_json::json!([1, 2]));
        assert_eq!(p.apply("text"), Value::String("text".into()));
    }
}
