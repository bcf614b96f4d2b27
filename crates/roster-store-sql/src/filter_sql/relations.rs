//! Attributes that live in rows of their own: `emails` in the `user_emails` index table, and group
//! membership (`groups` on users, `members` on groups) in `team_members`.

use super::*;

impl Compiler<'_, '_, '_> {
    /// A condition on one `user_emails` row (alias `ue`).
    pub(super) fn email_column(
        &mut self,
        col: &str,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        if col == "is_primary" {
            return Ok(self.json_boolean(&Source::Text("ue.is_primary".into()), cmp));
        }
        self.string(&Source::Text(format!("ue.{col}")), false, cmp)
    }

    /// The users with an e-mail row satisfying `cond`; `ne`/`eq null` mean "no row does".
    pub(super) fn in_emails(&mut self, cond: &str, cmp: Option<(CompareOp, &CompValue)>) -> String {
        let a = self.account_param.clone();
        let (negate, _) = negated(cmp);

        if negate {
            // `cond` is the negated form; test its positive inside, negate outside.
            format!(
                "(NOT (u.id IN (SELECT ue.user_id FROM user_emails ue WHERE ue.account_id = {a} AND NOT {cond})))"
            )
        } else {
            format!(
                "(u.id IN (SELECT ue.user_id FROM user_emails ue WHERE ue.account_id = {a} AND {cond}))"
            )
        }
    }

    /// `groups.value` on users, `members.value` on groups: membership rows.
    pub(super) fn membership(
        &mut self,
        path: &AttrPath,
        sub: Option<&str>,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        if let Some(s) = sub.filter(|s| *s != "value") {
            // Another sub-attribute (`groups.display`, `members.type`): a condition on each
            // membership row.
            // Any membership matches; `ne` on a multi-valued attribute: none equals.
            let p = AttrPath::new(s);
            let (negate, op) = match cmp {
                Some((CompareOp::Ne, v)) => (true, Some((CompareOp::Eq, v))),
                other => (false, other),
            };
            let f = match op {
                None => Filter::Present { path: p },
                Some((op, value)) => Filter::Compare {
                    path: p,
                    op,
                    value: value.clone(),
                },
            };
            let any = self.member_exists(path, &f)?;
            return Ok(if negate { format!("(NOT {any})") } else { any });
        }
        let (mine, other) = self.membership_columns();
        let t = self.table();
        let a = self.account_param.clone();
        // Memberships whose other side is in the provider's scope.
        let (other_table, o) = (self.membership_other_table(), self.owner_param.clone());
        let rows = format!(
            "team_members m JOIN {other_table} o ON o.id = m.{other} AND o.provisioned_by_idp = {o}"
        );
        let any = format!("({t}.id IN (SELECT m.{mine} FROM {rows} WHERE m.account_id = {a}))");
        let Some((op, value)) = cmp else {
            return Ok(any);
        };
        let Some(text) = literal_text(value) else {
            return Ok(match op {
                CompareOp::Eq => format!("(NOT {any})"),
                CompareOp::Ne => any,
                _ => FALSE.into(),
            });
        };
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            // Other operators compare the id's text, as the resource shows it.
            let cond = self.string(&Source::Text(rendered_id("o")), true, Some((op, value)))?;
            return Ok(format!(
                "({t}.id IN (SELECT m.{mine} FROM {rows} WHERE m.account_id = {a} AND {cond}))"
            ));
        }
        // The other side's id, as `id_column` compares it (`o` is the other side's row).
        let with = |c: &mut Self| {
            let is = c.id_column("o", Some((CompareOp::Eq, value)));
            format!("({t}.id IN (SELECT m.{mine} FROM {rows} WHERE m.account_id = {a} AND {is}))")
        };
        match (op, ScimRef::parse(&text)) {
            (CompareOp::Eq, Some(_)) => Ok(with(self)),
            (CompareOp::Eq, None) => Ok(FALSE.into()),
            (CompareOp::Ne, Some(_)) => Ok(format!("(NOT {})", with(self))),
            (CompareOp::Ne, None) => Ok(TRUE.into()),
            _ => Ok(FALSE.into()),
        }
    }

    pub(super) fn membership_filter(
        &mut self,
        path: &AttrPath,
        inner: &Filter,
    ) -> Result<String, String> {
        // `members[value eq "x"]` is `members.value eq "x"`; anything richer is refused.
        match inner {
            Filter::Compare { path: p, op, value }
                if p.sub.is_none() && p.attr.eq_ignore_ascii_case("value") =>
            {
                self.membership(path, Some("value"), Some((*op, value)))
            }
            Filter::Present { path: p }
                if p.sub.is_none() && p.attr.eq_ignore_ascii_case("value") =>
            {
                self.membership(path, Some("value"), None)
            }
            _ => self.member_exists(path, inner),
        }
    }

    /// Some membership row in scope (the other side is the provider's) meets `inner`.
    pub(super) fn member_exists(
        &mut self,
        path: &AttrPath,
        inner: &Filter,
    ) -> Result<String, String> {
        let (mine, other) = self.membership_columns();
        let (t, a) = (self.table(), self.account_param.clone());
        let (other_table, o) = (self.membership_other_table(), self.owner_param.clone());
        let cond = self.element_filter(inner, &ElementScope::Membership { attr: path })?;
        Ok(format!(
            "({t}.id IN (SELECT m.{mine} FROM team_members m JOIN {other_table} o ON o.id = m.{other} \
             AND o.provisioned_by_idp = {o} WHERE m.account_id = {a} AND {cond}))"
        ))
    }

    /// A membership row's sub-attribute as the resource shows it, and whether it compares
    /// exactly (else the text is already folded, as the evaluator folds it).
    pub(super) fn member_field(
        &mut self,
        path: &AttrPath,
        p: &AttrPath,
    ) -> Result<(String, bool), String> {
        if p.urn.is_some() || p.sub.is_some() {
            return Err(unsupported_attr(path));
        }
        let other_id = rendered_id("o");
        match (self.resource, p.attr.to_ascii_lowercase().as_str()) {
            (_, "value") => Ok((rendered_id("o"), true)),
            (_, "$ref") => {
                let endpoint = match self.resource {
                    Resource::Users => "Groups",
                    Resource::Groups => "Users",
                };
                let sub = AttrPath {
                    urn: path.urn.clone(),
                    attr: path.attr.clone(),
                    sub: Some("$ref".into()),
                };
                let exact = self
                    .ctx
                    .resolve(&sub)
                    .and_then(|r| r.sub)
                    .is_some_and(|d| d.case_exact);
                Ok((self.url_of(path, endpoint, &other_id, exact)?, exact))
            }
            // A user's groups show each team's name, and `direct`.
            (Resource::Users, "display") => Ok(("o.name_folded".into(), false)),
            (Resource::Users, "type") => Ok(("'direct'".into(), false)),
            // A group's members show `User`.
            (Resource::Groups, "type") => Ok(("'user'".into(), false)),
            // A member's display, as `team_members` in the store shows it: the one the client
            // sent, else the user's `displayName`, else its `userName` (when the first present
            // is blank), each case-folded.
            (Resource::Groups, "display") => {
                let raw = crate::sql::json_string(self.dialect, "o.scim_doc", "displayName");
                let folded = crate::sql::json_string(self.dialect, "o.scim_folded", "displayName");
                Ok((
                    format!(
                        "(CASE WHEN TRIM(COALESCE(m.display, {raw})) <> '' \
                         THEN COALESCE(m.display_folded, {folded}) ELSE o.email_folded END)"
                    ),
                    false,
                ))
            }
            _ => Err(format!(
                "Filtering by this attribute is not supported: \"{path}.{}\"",
                p.attr
            )),
        }
    }

    pub(super) fn membership_other_table(&self) -> &'static str {
        match self.resource {
            Resource::Users => "teams",
            Resource::Groups => "users",
        }
    }

    pub(super) fn membership_columns(&self) -> (&'static str, &'static str) {
        match self.resource {
            Resource::Users => ("user_id", "team_id"),
            Resource::Groups => ("team_id", "user_id"),
        }
    }
}
