//! Listings as they stand now: repriced or sold through the control API.

use cratedigger_domain::ListingId;

use super::{LiveListing, MutationError, Simulation};

impl Simulation {
    /// A listing as the market shows it now; `None` once sold.
    pub fn live_listing(&self, index: u32) -> Option<LiveListing<'_>> {
        self.live_listings(&[index]).pop()
    }

    pub fn live_listing_by_id(&self, id: ListingId) -> Option<LiveListing<'_>> {
        let (index, _) = self.world.market.listing_by_id(id)?;
        self.live_listing(index)
    }

    pub fn listings_of_release(&self, release: u32) -> Vec<LiveListing<'_>> {
        let market = &self.world.market;
        self.live_listings(
            market
                .by_release
                .get(release as usize)
                .map_or(&[], Vec::as_slice),
        )
    }

    pub fn listings_of_seller(&self, seller: u32) -> Vec<LiveListing<'_>> {
        let market = &self.world.market;
        self.live_listings(
            market
                .by_seller
                .get(seller as usize)
                .map_or(&[], Vec::as_slice),
        )
    }

    /// The live ones among `indices`, under one read of the changes.
    fn live_listings(&self, indices: &[u32]) -> Vec<LiveListing<'_>> {
        let changes = self.read_changes();
        let market = &self.world.market;
        indices
            .iter()
            .filter(|index| !changes.sold.contains(index))
            .filter_map(|&index| {
                let listing = market.listings.get(index as usize)?;
                let seller = market.sellers.get(listing.seller as usize)?;
                let minor = changes
                    .prices
                    .get(&index)
                    .copied()
                    .unwrap_or(listing.price_minor);
                Some(LiveListing {
                    index,
                    listing,
                    seller,
                    price: seller.money(minor),
                })
            })
            .collect()
    }

    /// Reprices a listing in its seller's currency.
    pub fn set_price(&self, id: ListingId, minor: i64) -> Result<(), MutationError> {
        if minor <= 0 {
            return Err(MutationError::InvalidPrice);
        }
        let (index, _) = self
            .world
            .market
            .listing_by_id(id)
            .ok_or(MutationError::UnknownListing(id))?;
        let mut changes = self.write_changes();
        if changes.sold.contains(&index) {
            return Err(MutationError::UnknownListing(id));
        }
        changes.prices.insert(index, minor);
        Ok(())
    }

    /// Takes a listing off the market, as a sale does.
    pub fn mark_sold(&self, id: ListingId) -> Result<(), MutationError> {
        let (index, _) = self
            .world
            .market
            .listing_by_id(id)
            .ok_or(MutationError::UnknownListing(id))?;
        if self.write_changes().sold.insert(index) {
            Ok(())
        } else {
            Err(MutationError::UnknownListing(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::small_simulation as simulation;

    #[test]
    fn repriced_and_sold_listings_show_as_they_stand() {
        let sim = simulation();
        let release = sim
            .world
            .market
            .by_release
            .iter()
            .position(|l| l.len() >= 2)
            .unwrap() as u32;
        let listings = sim.listings_of_release(release);
        let first = listings[0].listing.id;
        sim.set_price(first, 12_345).unwrap();
        assert_eq!(sim.live_listing_by_id(first).unwrap().price.minor, 12_345);
        sim.mark_sold(first).unwrap();
        assert!(sim.live_listing_by_id(first).is_none());
        assert_eq!(sim.listings_of_release(release).len(), listings.len() - 1);
        assert!(sim.mark_sold(first).is_err());
        assert_eq!(
            sim.set_price(first, 1),
            Err(MutationError::UnknownListing(first))
        );
        assert_eq!(
            sim.set_price(listings[1].listing.id, 0),
            Err(MutationError::InvalidPrice)
        );
    }
}
