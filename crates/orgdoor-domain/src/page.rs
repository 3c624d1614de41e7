//! Pages of a paginated collection.

/// Largest page Atlas serves (`itemsPerPage` maximum).
pub const MAX_ITEMS_PER_PAGE: u32 = 500;
/// Page size when the client names none.
pub const DEFAULT_ITEMS_PER_PAGE: u32 = 100;

/// Which page of a collection to read: 1-based `page_num`, `items_per_page` in 1..=500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    items_per_page: u32,
    page_num: u32,
}

impl PageRequest {
    /// Clamps out-of-range values the way MongoDB's API guideline IPA-110 says: zero means the
    /// default, more than the maximum means the maximum.
    pub fn new(items_per_page: Option<u32>, page_num: Option<u32>) -> Self {
        let items_per_page = match items_per_page {
            None | Some(0) => DEFAULT_ITEMS_PER_PAGE,
            Some(n) => n.min(MAX_ITEMS_PER_PAGE),
        };
        let page_num = match page_num {
            None | Some(0) => 1,
            Some(n) => n,
        };
        Self {
            items_per_page,
            page_num,
        }
    }

    pub fn items_per_page(self) -> u32 {
        self.items_per_page
    }

    pub fn page_num(self) -> u32 {
        self.page_num
    }

    /// Rows to skip, saturating rather than overflowing for absurd page numbers.
    pub fn offset(self) -> u64 {
        u64::from(self.page_num - 1).saturating_mul(u64::from(self.items_per_page))
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// One page of items and the size of the whole collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_count: u64,
}

impl<T> Page<T> {
    /// The requested page of a whole collection held in memory.
    pub fn of_all(all: Vec<T>, request: PageRequest) -> Self {
        let total_count = all.len() as u64;
        let skip = usize::try_from(request.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(request.items_per_page()).unwrap_or(usize::MAX);
        Self {
            items: all.into_iter().skip(skip).take(take).collect(),
            total_count,
        }
    }

    /// Whether a page follows this one.
    pub fn has_next(&self, request: PageRequest) -> bool {
        request
            .offset()
            .saturating_add(u64::from(request.items_per_page()))
            < self.total_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_absent_values_fall_back_to_defaults() {
        assert_eq!(
            PageRequest::new(Some(0), Some(0)),
            PageRequest::new(None, None)
        );
        assert_eq!(PageRequest::default().items_per_page(), 100);
        assert_eq!(PageRequest::default().page_num(), 1);
    }

    #[test]
    fn oversized_pages_are_clamped() {
        assert_eq!(PageRequest::new(Some(10_000), None).items_per_page(), 500);
    }

    #[test]
    fn a_page_of_a_whole_collection_counts_all_of_it() {
        let page = Page::of_all((1..=5).collect(), PageRequest::new(Some(2), Some(3)));
        assert_eq!(page.items, vec![5]);
        assert_eq!(page.total_count, 5);
        let beyond = Page::of_all(vec![1, 2], PageRequest::new(Some(2), Some(u32::MAX)));
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total_count, 2);
    }

    #[test]
    fn the_last_page_has_no_next() {
        let page = Page {
            items: vec![1, 2],
            total_count: 4,
        };
        assert!(page.has_next(PageRequest::new(Some(2), Some(1))));
        assert!(!page.has_next(PageRequest::new(Some(2), Some(2))));
        assert_eq!(
            PageRequest::new(Some(500), Some(u32::MAX)).offset(),
            u64::from(u32::MAX - 1) * 500
        );
    }
}
