//! Lists and searches: pagination (index and cursor), sorting, and the group page bound.

use super::*;

/// The page size a list runs with: what was asked, at most `MAX_GROUPS_WITH_MEMBERS` for groups
/// whose members are included.
pub(super) fn page_limit(kind: Kind, projection: &Projection, asked: u64) -> i64 {
    let cap = match kind {
        Kind::Groups if projection.includes(kind.ctx(), "members") => MAX_GROUPS_WITH_MEMBERS,
        _ => MAX_COUNT,
    };
    asked.min(cap) as i64
}

pub(super) fn sort_of(kind: Kind, sort_by: &str) -> Result<ScimSort, ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "Sorting by \"{sort_by}\" is not supported: sort by a single-valued string attribute"
        ))
    };
    let path = AttrPath::parse(sort_by).map_err(|_| bad())?;
    let r = kind.ctx().resolve(&path).ok_or_else(bad)?;
    let core = matches!(r.container, Container::Core);
    let sub = r.sub.map(|s| s.name.as_str());
    Ok(match (core, r.attr.name.as_str(), sub, kind) {
        (true, "id", None, _) => ScimSort::Id,
        (true, "userName", None, Kind::Users) => ScimSort::UserName,
        (true, "displayName", None, Kind::Groups) => ScimSort::DisplayName,
        (true, "externalId", None, _) => ScimSort::ExternalId,
        (true, "meta", Some("created"), _) => ScimSort::Created,
        (true, "meta", Some("lastModified"), _) => ScimSort::LastModified,
        (true, "meta" | "schemas", _, _) => return Err(bad()),
        _ => {
            let leaf = r.leaf();
            let string = matches!(
                leaf.kind,
                roster_scim::schema::AttributeType::String
                    | roster_scim::schema::AttributeType::Reference
            );
            if r.attr.multi_valued
                || leaf.multi_valued
                || !string
                || (r.sub.is_none() && r.attr.is_complex())
            {
                return Err(bad());
            }
            let mut keys = Vec::new();
            if let Container::Extension(u) = r.container {
                keys.push(u.to_string());
            }
            keys.push(r.attr.name.clone());
            if let Some(s) = r.sub {
                keys.push(s.name.clone());
            }
            ScimSort::Json(keys)
        }
    })
}

impl Roster {
    /// The cursor of the page after `id` on `kind`'s list: the id sealed with the server's key
    /// (so a cursor says nothing of how many resources there are, and none can be forged), and
    /// bound to the resource type.
    pub(super) fn cursor_for(&self, kind: Kind, id: i64) -> Result<String, ScimError> {
        let plain = crate::secret::Secret::new(format!("{}:{id}", kind.name()));
        let sealed = self
            .keys
            .seal(&plain)
            .map_err(|e| ScimError::internal(e.to_string()))?;
        Ok(sealed
            .stored()
            .strip_prefix(crate::seal::SEALED_PREFIX)
            .unwrap_or_default()
            .to_string())
    }

    /// The id a cursor of `kind`'s list continues after.
    pub(super) fn parse_cursor(&self, kind: Kind, c: &str) -> Result<i64, ScimError> {
        let refused =
            || ScimError::invalid_cursor(format!("\"{c}\" is not a cursor this server gave out"));
        // Only sealed text opens (a clear value would be read as it is: see `SecretKey::open`).
        if c.is_empty() || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused());
        }
        let sealed = crate::seal::Sealed::from_stored(format!("{}{c}", crate::seal::SEALED_PREFIX));
        let plain = self.keys.open(&sealed).map_err(|_| refused())?;
        plain
            .expose()
            .strip_prefix(kind.name())
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(refused)
    }
}

impl Roster {
    pub(super) async fn scim_list(
        &self,
        c: &ScimCaller,
        kind: Kind,
        req: &SearchRequest,
    ) -> Result<Value, Failure> {
        let page = Pagination::from_request(req, DEFAULT_COUNT, MAX_COUNT)?;
        let filter = match req
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            // Checked against the resource type (RFC 7644 §3.4.2.2): an unknown attribute or an
            // operator its type gives no meaning to (`active gt true`) is 400, never an empty 200.
            Some(f) => Some(roster_scim::filter::resolve(
                &roster_scim::filter::parse(f)?,
                kind.ctx(),
            )?),
            None => None,
        };
        let (sort, descending) = match req
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => (
                sort_of(kind, s)?,
                matches!(
                    req.sort_order,
                    Some(roster_scim::messages::SortOrder::Descending)
                ),
            ),
            None => (ScimSort::Id, false),
        };
        let projection = Projection::from_lists(&req.attributes, &req.excluded_attributes);
        let (offset, after_id) = match &page {
            Pagination::Index { start_index, .. } => ((*start_index - 1) as i64, None),
            Pagination::Cursor { cursor, .. } => {
                if sort != ScimSort::Id || descending {
                    return Err(ScimError::invalid_value(
                        "Cursor pagination is in id order: leave sortBy and sortOrder out",
                    )
                    .into());
                }
                let after = match cursor.as_deref() {
                    Some(c) => Some(self.parse_cursor(kind, c)?),
                    None => None,
                };
                (0, after)
            }
        };
        let limit = page_limit(kind, &projection, page.count());
        let q = ScimQuery {
            filter,
            sort,
            descending,
            offset,
            limit,
            after_id,
            base: Some(c.base.clone()),
        };
        let mut tx = self.store.read().await?;
        let (resources, total, last_id) = self
            .query_page(tx.as_mut(), c, kind, &q, &projection)
            .await?;
        let total = total.max(0) as u64;
        let list = match page {
            Pagination::Index { start_index, .. } => {
                ListResponse::page(resources, total, start_index)
            }
            Pagination::Cursor { .. } => {
                let full = resources.len() as i64 == limit && limit > 0;
                let next = match last_id {
                    Some(id) if full => Some(self.cursor_for(kind, id)?),
                    _ => None,
                };
                ListResponse::cursor_page(resources, total, next)
            }
        };
        Ok(serde_json::to_value(list).map_err(|e| ScimError::internal(e.to_string()))?)
    }

    /// One page of users or groups, rendered and projected; the total; the last id (for cursors).
    pub(super) async fn query_page(
        &self,
        tx: &mut dyn Read,
        c: &ScimCaller,
        kind: Kind,
        q: &ScimQuery,
        projection: &Projection,
    ) -> Result<(Vec<Value>, i64, Option<i64>), Failure> {
        match kind {
            Kind::Users => User::page(tx, c, q, projection).await,
            Kind::Groups => Team::page(tx, c, q, projection).await,
        }
    }

    /// `POST /.search` at the root: Users, then Groups, paged as one list. A filter that names an
    /// attribute only one of them has matches nothing of the other.
    pub(super) async fn scim_search_all(
        &self,
        c: &ScimCaller,
        req: &SearchRequest,
    ) -> Result<Value, Failure> {
        if req.cursor.is_some() {
            return Err(ScimError::invalid_value(
                "Cursor pagination is per resource type: search /Users or /Groups",
            )
            .into());
        }
        if req.sort_by.as_deref().is_some_and(|s| !s.trim().is_empty()) {
            return Err(ScimError::invalid_value(
                "sortBy is per resource type: search /Users or /Groups",
            )
            .into());
        }
        let page = Pagination::from_request(req, DEFAULT_COUNT, MAX_COUNT)?;
        let start_index = match page {
            Pagination::Index { start_index, .. } => start_index,
            Pagination::Cursor { .. } => 1,
        };
        let filter = match req
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => Some(roster_scim::filter::parse(f)?),
            None => None,
        };
        let projection = Projection::from_lists(&req.attributes, &req.excluded_attributes);
        let limit = page.count() as i64;
        let mut offset = (start_index - 1) as i64;
        let mut resources = Vec::new();
        let mut total = 0i64;
        let mut answered = 0;
        let mut refusal = None;
        let mut tx = self.store.read().await?;
        for kind in [Kind::Users, Kind::Groups] {
            let room = page_limit(kind, &projection, (limit - resources.len() as i64) as u64);
            let q = ScimQuery {
                filter: filter.clone(),
                sort: ScimSort::Id,
                descending: false,
                offset,
                limit: room,
                after_id: None,
                base: Some(c.base.clone()),
            };
            match self.query_page(tx.as_mut(), c, kind, &q, &projection).await {
                Ok((items, n, _)) => {
                    answered += 1;
                    total += n;
                    offset = (offset - n).max(0);
                    resources.extend(items);
                }
                Err(Failure::Answer(e))
                    if e.scim_type == Some(roster_scim::ScimType::InvalidFilter) =>
                {
                    refusal = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        if answered == 0 {
            return Err(refusal
                .unwrap_or_else(|| {
                    ScimError::invalid_filter("The filter applies to no resource type")
                })
                .into());
        }
        let list = ListResponse::page(resources, total.max(0) as u64, start_index);
        Ok(serde_json::to_value(list).map_err(|e| ScimError::internal(e.to_string()))?)
    }
}
