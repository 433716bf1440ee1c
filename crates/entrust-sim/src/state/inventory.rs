//! Account inventory: which product an order consumes, and the counts `GET /inventories` shows.
//!
//! An order draws from its own product first and, for SSL types other than `PD_SSL`, from the
//! FLEX pool when its product is missing or used up. An UNLIMITED product is never used up and
//! has no counts.

use crate::model::{FLEX_PRODUCT, flex_covers};
use crate::scenario::ScenarioInventoryItem;

/// One product of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    /// Certificate type, or `FLEX`.
    pub product_type: String,
    /// Whether the product has no counts (`consumptionType: UNLIMITED`).
    pub unlimited: bool,
    /// Units ever added.
    pub total_count: u32,
    /// Units consumed.
    pub used_count: u32,
    /// Units available.
    pub remaining_count: u32,
}

impl From<&ScenarioInventoryItem> for InventoryItem {
    fn from(item: &ScenarioInventoryItem) -> Self {
        InventoryItem {
            product_type: item.product_type.clone(),
            unlimited: item.is_unlimited(),
            total_count: item.total_count,
            used_count: item.used_count,
            remaining_count: item.remaining_count,
        }
    }
}

/// Reason an order cannot consume inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryShortage {
    /// Neither the product nor the FLEX pool is part of the account.
    NotOffered,
    /// The product (and the FLEX pool, where it applies) has no units left.
    Exhausted,
}

/// The account's products, in scenario order.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    items: Vec<InventoryItem>,
}

impl Inventory {
    /// Builds the inventory from scenario items.
    pub fn new(items: &[ScenarioInventoryItem]) -> Inventory {
        Inventory {
            items: items.iter().map(InventoryItem::from).collect(),
        }
    }

    /// Returns every product, in scenario order.
    pub fn items(&self) -> &[InventoryItem] {
        &self.items
    }

    fn item(&self, product_type: &str) -> Option<&InventoryItem> {
        self.items
            .iter()
            .find(|item| item.product_type == product_type)
    }

    /// Returns the product an order of `cert_type` would consume: its own product while units
    /// remain (or when unlimited), else the FLEX pool where it applies.
    pub fn source_for(&self, cert_type: &str) -> Result<String, InventoryShortage> {
        let own = self.item(cert_type);
        if let Some(item) = own
            && (item.unlimited || item.remaining_count > 0)
        {
            return Ok(item.product_type.clone());
        }
        let flex = flex_covers(cert_type)
            .then(|| self.item(FLEX_PRODUCT))
            .flatten();
        if let Some(item) = flex
            && (item.unlimited || item.remaining_count > 0)
        {
            return Ok(item.product_type.clone());
        }
        if own.is_none() && flex.is_none() {
            Err(InventoryShortage::NotOffered)
        } else {
            Err(InventoryShortage::Exhausted)
        }
    }

    /// Consumes one unit of `product_type`: `remainingCount` down, `usedCount` up. Unlimited
    /// products are left as they are.
    pub fn consume(&mut self, product_type: &str) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|item| item.product_type == product_type)
            && !item.unlimited
        {
            item.remaining_count = item.remaining_count.saturating_sub(1);
            item.used_count = item.used_count.saturating_add(1);
        }
    }

    /// Gives back one unit of `product_type` that an order consumed but never used (a declined
    /// order): `usedCount` down, `remainingCount` up. Unlimited products are left as they are.
    pub fn release(&mut self, product_type: &str) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|item| item.product_type == product_type)
            && !item.unlimited
        {
            item.used_count = item.used_count.saturating_sub(1);
            item.remaining_count = item.remaining_count.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(product: &str, remaining: u32) -> ScenarioInventoryItem {
        ScenarioInventoryItem {
            product_type: product.to_owned(),
            consumption_type: None,
            total_count: 10,
            used_count: 10 - remaining,
            remaining_count: remaining,
        }
    }

    #[test]
    fn own_product_is_used_first() {
        let inventory = Inventory::new(&[item("EV_SSL", 1), item("FLEX", 5)]);

        assert_eq!(inventory.source_for("EV_SSL"), Ok("EV_SSL".to_owned()));
    }

    #[test]
    fn flex_covers_exhausted_ssl_product() {
        let inventory = Inventory::new(&[item("EV_SSL", 0), item("FLEX", 5)]);

        assert_eq!(inventory.source_for("EV_SSL"), Ok("FLEX".to_owned()));
        assert_eq!(inventory.source_for("PRIVATE_SSL"), Ok("FLEX".to_owned()));
    }

    #[test]
    fn flex_never_covers_pd_ssl() {
        let inventory = Inventory::new(&[item("PD_SSL", 0), item("FLEX", 5)]);

        assert_eq!(
            inventory.source_for("PD_SSL"),
            Err(InventoryShortage::Exhausted)
        );
        assert_eq!(
            Inventory::new(&[item("FLEX", 5)]).source_for("PD_SSL"),
            Err(InventoryShortage::NotOffered)
        );
    }

    #[test]
    fn consume_moves_one_unit() {
        let mut inventory = Inventory::new(&[item("STANDARD_SSL", 3)]);

        inventory.consume("STANDARD_SSL");

        assert_eq!(inventory.items()[0].remaining_count, 2);
        assert_eq!(inventory.items()[0].used_count, 8);
    }

    #[test]
    fn release_returns_one_unit() {
        let mut inventory = Inventory::new(&[item("STANDARD_SSL", 0)]);

        inventory.release("STANDARD_SSL");

        assert_eq!(inventory.items()[0].remaining_count, 1);
        assert_eq!(inventory.items()[0].used_count, 9);
        assert_eq!(
            inventory.source_for("STANDARD_SSL"),
            Ok("STANDARD_SSL".to_owned())
        );
    }

    #[test]
    fn unlimited_product_is_never_exhausted() {
        let mut unlimited = item("UC_SSL", 0);
        unlimited.consumption_type = Some("UNLIMITED".to_owned());
        let mut inventory = Inventory::new(&[unlimited]);

        inventory.consume("UC_SSL");

        assert_eq!(inventory.source_for("UC_SSL"), Ok("UC_SSL".to_owned()));
        assert_eq!(inventory.items()[0].remaining_count, 0);
    }
}
