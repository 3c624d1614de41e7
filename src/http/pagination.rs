//! Paginated lists: the `itemsPerPage`/`pageNum`/`includeCount` parameters and the
//! `{links, results, totalCount}` wrapper with absolute `self`/`next`/`previous` links
//! (BEHAVIOR §8).

use orgdoor_domain::{Page, PageRequest};
use serde::Serialize;

use crate::error::AppError;
use crate::http::extract::{BaseUrl, QueryParams};

/// One entry of a `links` array.
#[derive(Debug, Serialize)]
pub struct Link {
    pub href: String,
    pub rel: &'static str,
}

impl Link {
    pub fn self_link(base: &BaseUrl, path: &str) -> Self {
        Self {
            href: format!("{}{path}", base.0),
            rel: "self",
        }
    }
}

/// The paging parameters of a list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub page: PageRequest,
    pub include_count: bool,
    /// Other parameters, repeated in every link so each page is filtered alike.
    filters: Vec<(String, String)>,
}

const PAGING: [&str; 5] = [
    "itemsPerPage",
    "pageNum",
    "includeCount",
    "pretty",
    "envelope",
];

impl ListQuery {
    pub fn from_query(query: &QueryParams) -> Result<Self, AppError> {
        Ok(Self {
            page: PageRequest::new(query.count("itemsPerPage")?, query.count("pageNum")?),
            include_count: query.flag("includeCount", true),
            filters: query
                .pairs()
                .filter(|(name, _)| !PAGING.contains(name))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        })
    }

    fn href(&self, base: &BaseUrl, path: &str, page_num: u32, self_order: bool) -> String {
        let mut query = format!("includeCount={}", self.include_count);
        for (name, value) in &self.filters {
            query.push('&');
            query.push_str(&form_encode(name));
            query.push('=');
            query.push_str(&form_encode(value));
        }
        let per_page = self.page.items_per_page();
        // The order Atlas uses: `pageNum` first in `self`, last in `next` and `previous`.
        if self_order {
            query.push_str(&format!("&pageNum={page_num}&itemsPerPage={per_page}"));
        } else {
            query.push_str(&format!("&itemsPerPage={per_page}&pageNum={page_num}"));
        }
        format!("{}{path}?{query}", base.0)
    }
}

fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `Paginated*` wrapper of the spec.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paginated<T> {
    pub links: Vec<Link>,
    pub results: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

impl<T> Paginated<T> {
    pub fn new<S>(
        base: &BaseUrl,
        path: &str,
        query: &ListQuery,
        page: Page<S>,
        view: impl FnMut(S) -> T,
    ) -> Self {
        let page_num = query.page.page_num();
        let mut links = vec![Link {
            href: query.href(base, path, page_num, true),
            rel: "self",
        }];
        if page.has_next(query.page) {
            links.push(Link {
                href: query.href(base, path, page_num + 1, false),
                rel: "next",
            });
        }
        if page_num > 1 {
            links.push(Link {
                href: query.href(base, path, page_num - 1, false),
                rel: "previous",
            });
        }
        Self {
            links,
            total_count: query.include_count.then_some(page.total_count),
            results: page.items.into_iter().map(view).collect(),
        }
    }
}
