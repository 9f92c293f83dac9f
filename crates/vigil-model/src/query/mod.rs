//! OData query options ($filter, $orderby, $select, $top, $skip, $count) for Graph resources.
