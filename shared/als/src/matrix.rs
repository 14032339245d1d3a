//! Building the user x item matrix from raw triplets, with the input rules in one place:
//! weights must be finite and non-negative (the offending input row is named), indices
//! must fit the declared shape, duplicate (user, item) pairs are summed, and zero weights
//! are dropped (an explicit zero is not an interaction).

use std::io::BufRead;

use crate::{AlsError, Csr};

/// One user's items: sorted, unique item indices with their weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseRow {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseRow {
    /// Builds a row from (item index, weight) pairs under the same rules as the matrix:
    /// `pair` numbers in errors count from 0 in the order given.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (u32, f32)>,
        n_items: usize,
    ) -> Result<Self, AlsError> {
        let mut entries = Vec::new();
        for (row, (item, weight)) in pairs.into_iter().enumerate() {
            check_weight(row, weight)?;
            if item as usize >= n_items {
                return Err(out_of_range(row, "item", u64::from(item), n_items));
            }
            if weight > 0.0 {
                entries.push((item, weight));
            }
        }
        entries.sort_unstable_by_key(|&(item, _)| item);
        let mut row = Self::default();
        for (item, weight) in entries {
            if row.indices.last() == Some(&item) {
                if let Some(last) = row.values.last_mut() {
                    *last += weight;
                }
            } else {
                row.indices.push(item);
                row.values.push(weight);
            }
        }
        Ok(row)
    }

    /// The row `u` of a CSR matrix.
    pub fn of(matrix: &Csr, u: usize) -> Self {
        matrix.outer_view(u).map_or_else(Self::default, |row| Self {
            indices: row.indices().to_vec(),
            values: row.data().to_vec(),
        })
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    pub fn contains(&self, item: u32) -> bool {
        self.indices.binary_search(&item).is_ok()
    }
}

/// Accumulates (user, item, weight) triplets and builds the CSR matrix.
#[derive(Debug)]
pub struct InteractionsBuilder {
    n_users: usize,
    n_items: usize,
    /// (user << 32 | item, weight): one sortable key per entry.
    entries: Vec<(u64, f32)>,
    pushed: usize,
}

impl InteractionsBuilder {
    /// Declares the shape. Both dimensions must fit `u32` (indices are stored as `u32`).
    pub fn new(n_users: usize, n_items: usize) -> Result<Self, AlsError> {
        for (name, n) in [("n_users", n_users), ("n_items", n_items)] {
            if n > u32::MAX as usize {
                return Err(AlsError::bad_parameter(name, "must fit in 32 bits"));
            }
        }
        Ok(Self {
            n_users,
            n_items,
            entries: Vec::new(),
            pushed: 0,
        })
    }

    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.entries.reserve(capacity);
        self
    }

    /// Adds one interaction. The input row number in errors counts pushes from 0.
    pub fn push(&mut self, user: u64, item: u64, weight: f32) -> Result<(), AlsError> {
        let row = self.pushed;
        self.pushed += 1;
        check_weight(row, weight)?;
        if user >= self.n_users as u64 {
            return Err(out_of_range(row, "user", user, self.n_users));
        }
        if item >= self.n_items as u64 {
            return Err(out_of_range(row, "item", item, self.n_items));
        }
        if weight > 0.0 {
            self.entries.push(((user << 32) | item, weight));
        }
        Ok(())
    }

    /// Sorts, sums duplicates and lays the entries out as CSR.
    pub fn build(mut self) -> Interactions {
        self.entries.sort_unstable_by_key(|&(key, _)| key);
        let mut indptr = vec![0_usize; self.n_users + 1];
        let mut indices: Vec<u32> = Vec::with_capacity(self.entries.len());
        let mut data: Vec<f32> = Vec::with_capacity(self.entries.len());
        let mut last_key = None;
        for (key, weight) in self.entries {
            if last_key == Some(key) {
                if let Some(last) = data.last_mut() {
                    *last += weight;
                }
                continue;
            }
            last_key = Some(key);
            indptr[(key >> 32) as usize + 1] += 1;
            indices.push((key & 0xFFFF_FFFF) as u32);
            data.push(weight);
        }
        for u in 0..self.n_users {
            indptr[u + 1] += indptr[u];
        }
        // Sorted unique keys give sorted unique column indices per row: a valid CSR.
        let matrix = Csr::new((self.n_users, self.n_items), indptr, indices, data);
        Interactions { matrix }
    }
}

/// A user x item matrix of raw weights, validated.
#[derive(Clone, Debug)]
pub struct Interactions {
    matrix: Csr,
}

impl Interactions {
    /// Wraps an existing CSR matrix after checking its values (finite, non-negative).
    pub fn from_csr(matrix: Csr) -> Result<Self, AlsError> {
        if !matrix.is_csr() {
            return Err(AlsError::bad_parameter("matrix", "must be in CSR storage"));
        }
        if let Some((row, &weight)) = matrix
            .data()
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(AlsError::BadWeight { row, weight });
        }
        Ok(Self { matrix })
    }

    pub fn users(&self) -> usize {
        self.matrix.rows()
    }

    pub fn items(&self) -> usize {
        self.matrix.cols()
    }

    pub fn nnz(&self) -> usize {
        self.matrix.nnz()
    }

    pub fn matrix(&self) -> &Csr {
        &self.matrix
    }

    pub fn into_matrix(self) -> Csr {
        self.matrix
    }

    pub fn row(&self, user: usize) -> SparseRow {
        SparseRow::of(&self.matrix, user)
    }
}

fn check_weight(row: usize, weight: f32) -> Result<(), AlsError> {
    if weight.is_finite() && weight >= 0.0 {
        Ok(())
    } else {
        Err(AlsError::BadWeight { row, weight })
    }
}

fn out_of_range(row: usize, what: &'static str, index: u64, limit: usize) -> AlsError {
    AlsError::IndexOutOfRange {
        row,
        what,
        index,
        limit: limit as u64,
    }
}

/// The transpose of a CSR matrix, as CSR.
pub(crate) fn transpose(matrix: &Csr) -> Csr {
    matrix.transpose_view().to_other_storage()
}

/// Reads `user_id,item_id,weight` lines (a header line is skipped; blank lines ignored).
/// Row numbers in errors count data lines from 0.
pub fn parse_csv_triplets(reader: impl BufRead) -> Result<Vec<(u64, u64, f32)>, AlsError> {
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| AlsError::Io {
            path: "<csv>".into(),
            source,
        })?;
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.chars().next().is_some_and(char::is_alphabetic)) {
            continue;
        }
        let row = out.len();
        let mut fields = line.split(',').map(str::trim);
        let bad =
            || AlsError::bad_parameter("csv", format!("data row {row}: expected user,item,weight"));
        let user = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        let item = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        let weight = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        out.push((user, item, weight));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_duplicates_and_drops_zeros() {
        let mut b = InteractionsBuilder::new(2, 3).unwrap();
        b.push(0, 2, 1.0).unwrap();
        b.push(0, 0, 2.0).unwrap();
        b.push(0, 2, 3.0).unwrap();
        b.push(1, 1, 0.0).unwrap();
        let m = b.build();
        assert_eq!(m.nnz(), 2);
        assert_eq!(
            m.row(0),
            SparseRow {
                indices: vec![0, 2],
                values: vec![2.0, 4.0]
            }
        );
        assert!(m.row(1).is_empty());
    }

    #[test]
    fn names_the_row_of_a_bad_weight() {
        let mut b = InteractionsBuilder::new(2, 2).unwrap();
        b.push(0, 0, 1.0).unwrap();
        let err = b.push(1, 1, f32::NAN).unwrap_err();
        assert!(matches!(err, AlsError::BadWeight { row: 1, .. }), "{err}");
        let err = b.push(1, 1, -2.0).unwrap_err();
        assert!(err.to_string().contains("input row 2"), "{err}");
        assert!(matches!(
            b.push(0, 0, f32::INFINITY),
            Err(AlsError::BadWeight { row: 3, .. })
        ));
    }

    #[test]
    fn rejects_indices_that_do_not_fit() {
        let mut b = InteractionsBuilder::new(2, 2).unwrap();
        let err = b.push(2, 0, 1.0).unwrap_err();
        assert!(matches!(
            err,
            AlsError::IndexOutOfRange {
                what: "user",
                index: 2,
                ..
            }
        ));
        let err = b.push(0, u64::MAX, 1.0).unwrap_err();
        assert!(matches!(
            err,
            AlsError::IndexOutOfRange { what: "item", .. }
        ));
        assert!(InteractionsBuilder::new(usize::MAX, 1).is_err());
    }

    #[test]
    fn rows_follow_the_same_rules() {
        let row = SparseRow::from_pairs([(3, 1.0), (1, 2.0), (3, 1.5), (2, 0.0)], 4).unwrap();
        assert_eq!(
            row,
            SparseRow {
                indices: vec![1, 3],
                values: vec![2.0, 2.5]
            }
        );
        assert!(SparseRow::from_pairs([(4, 1.0)], 4).is_err());
        assert!(matches!(
            SparseRow::from_pairs([(0, 1.0), (1, -1.0)], 4),
            Err(AlsError::BadWeight { row: 1, .. })
        ));
    }

    #[test]
    fn from_csr_checks_values() {
        let m = Csr::new((1, 2), vec![0, 1], vec![1], vec![-1.0]);
        assert!(matches!(
            Interactions::from_csr(m),
            Err(AlsError::BadWeight { row: 0, .. })
        ));
    }

    #[test]
    fn parses_csv_with_header() {
        let text = "user_id,item_id,weight\n0,1,2.5\n\n3,4,1\n";
        assert_eq!(
            parse_csv_triplets(text.as_bytes()).unwrap(),
            vec![(0, 1, 2.5), (3, 4, 1.0)]
        );
        assert!(parse_csv_triplets("0,x,1\n".as_bytes()).is_err());
    }
}
