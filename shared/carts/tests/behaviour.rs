//! Behaviour a caller relies on: errors for invalid requests, reasons for empty plans,
//! rejection counts, flags and bindings on carts, and agreement with the reference
//! solution stored in the shared folder.

mod common;

use common::eur;
use cratedigger_carts::reference::{ReferenceAnswer, ReferenceInstance};
use cratedigger_carts::{
    Binding, Candidate, CartCriteria, CartError, ConvertedPrice, EmptyReason, InputError, Instance,
    Listing, Market, Objective, Optimality, Options, Origin, Rejection, Seller, SellerRating,
    ShippingPolicy, UnknownShipping, optimise, top_k_for_seller,
};
use cratedigger_domain::{
    Country, Currency, ListingId, MasterId, MediaCondition, Money, ReleaseId, SellerName,
};

fn candidate(release: u64, score: f64) -> Candidate {
    Candidate {
        release: ReleaseId(release),
        master: None,
        score,
        origin: Origin::Wantlist,
    }
}

fn listing(id: u64, release: u64, seller: &str, price: i64) -> Listing {
    Listing {
        id: ListingId(id),
        release: ReleaseId(release),
        seller: SellerName::new(seller),
        price: eur(price),
        converted: None,
        media: MediaCondition::VeryGoodPlus,
        sleeve: None,
        available: true,
    }
}

fn seller(name: &str, first: i64, additional: i64) -> Seller {
    Seller {
        name: SellerName::new(name),
        rating: Some(SellerRating {
            percent: 99.5,
            count: 1200,
        }),
        ships_from: Some(Country::new("Germany")),
        shipping: Some(ShippingPolicy::new(eur(first), eur(additional))),
        min_order_total: None,
    }
}

/// Three records at two sellers: "a" ships for 5.00 + 1.00 per extra item, "b" for 4.00.
fn shop() -> Instance {
    Instance {
        candidates: vec![candidate(1, 0.9), candidate(2, 0.8), candidate(3, 0.5)],
        listings: vec![
            listing(10, 1, "a", 2_000),
            listing(11, 2, "a", 1_500),
            listing(12, 3, "b", 1_000),
            listing(13, 2, "b", 2_500),
        ],
        sellers: vec![seller("a", 500, 100), seller("b", 400, 400)],
    }
}

#[test]
fn invalid_criteria_are_errors_naming_the_field() {
    let mut criteria = CartCriteria::with_budget(eur(0));
    let err = optimise(&shop(), &criteria, &Options::default()).unwrap_err();
    assert!(
        matches!(&err, CartError::Criteria(e) if e.field == "budget"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "invalid criteria: budget: must be greater than zero"
    );
    criteria.budget = eur(5_000);
    criteria.min_items = 0;
    assert!(matches!(
        optimise(&shop(), &criteria, &Options::default()),
        Err(CartError::Criteria(_))
    ));
    let bad_grade = r#"{"budget":{"minor":5000,"currency":"EUR"},"min_media_condition":"shiny"}"#;
    assert!(serde_json::from_str::<CartCriteria>(bad_grade).is_err());
}

#[test]
fn impossible_inputs_are_errors() {
    let criteria = CartCriteria::with_budget(eur(5_000));
    let mut instance = shop();
    instance.candidates[0].score = f64::NAN;
    let err = optimise(&instance, &criteria, &Options::default()).unwrap_err();
    assert!(matches!(err, CartError::Input(InputError::BadScore { .. })));

    let mut instance = shop();
    instance.listings.push(listing(10, 3, "b", 100));
    let err = optimise(&instance, &criteria, &Options::default()).unwrap_err();
    assert_eq!(
        err,
        CartError::Input(InputError::DuplicateListing(ListingId(10)))
    );

    let options = Options {
        unknown_shipping: UnknownShipping::Assume(ShippingPolicy::new(
            Money::new(500, Currency::USD),
            Money::new(100, Currency::USD),
        )),
        ..Options::default()
    };
    assert!(matches!(
        optimise(&shop(), &criteria, &options),
        Err(CartError::Options(_))
    ));

    let unknown = SellerName::new("nobody");
    let err = top_k_for_seller(
        &shop(),
        &criteria,
        &Options::default(),
        &unknown,
        Objective::TotalScore,
    );
    assert_eq!(err.unwrap_err(), CartError::UnknownSeller(unknown));
}

#[test]
fn foreign_prices_need_a_conversion() {
    let criteria = CartCriteria::with_budget(eur(10_000));
    let mut instance = shop();
    instance.listings[0].price = Money::new(2_200, Currency::USD);
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    assert_eq!(
        plan.rejections.get(&Rejection::NoPriceInBudgetCurrency),
        Some(&1)
    );

    instance.listings[0].converted = Some(ConvertedPrice {
        price: eur(2_000),
        rate: 0.91,
        rate_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
    });
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    assert!(plan.rejections.is_empty(), "{:?}", plan.rejections);
    let best = plan.scenarios.last().unwrap().cart.as_ref().unwrap();
    let line = best
        .lines
        .iter()
        .find(|l| l.listing == ListingId(10))
        .unwrap();
    assert_eq!(line.price, eur(2_000));
    assert_eq!(line.asking_price, Some(Money::new(2_200, Currency::USD)));
}

#[test]
fn carts_add_shipping_per_seller() {
    // Budget 60.00: records 1, 2 from a (20 + 15 + 5 + 1) and 3 from b (10 + 4) = 55.00.
    let criteria = CartCriteria::with_budget(eur(6_000));
    let plan = optimise(&shop(), &criteria, &Options::default()).unwrap();
    let any = plan.scenarios.last().unwrap();
    assert_eq!(any.max_sellers, None);
    let cart = any.cart.as_ref().unwrap();
    assert_eq!(cart.item_count, 3);
    assert_eq!(cart.total, eur(5_500));
    assert_eq!(cart.shipping_total, eur(500 + 100 + 400));
    assert_eq!(cart.orders.len(), 2);
    assert!(!cart.shipping_assumed);
    // With one seller, "a" alone (two records, 41.00) beats "b" alone.
    let one = plan.scenarios[0].cart.as_ref().unwrap();
    assert_eq!(plan.scenarios[0].max_sellers, Some(1));
    assert_eq!(one.orders[0].seller, SellerName::new("a"));
    assert!(one.bound_by.contains(&Binding::MaxSellers));
    let a = &plan.per_seller[0];
    assert_eq!(a.by_total_score.len(), 3, "{{1,2}}, {{1}}, {{2}}");
    assert_eq!(a.by_total_score[0].total, eur(2_000 + 1_500 + 500 + 100));
}

#[test]
fn the_budget_binds_when_nothing_else_fits() {
    let criteria = CartCriteria::with_budget(eur(4_000));
    let plan = optimise(&shop(), &criteria, &Options::default()).unwrap();
    let cart = plan.scenarios.last().unwrap().cart.as_ref().unwrap();
    assert!(
        cart.bound_by.contains(&Binding::Budget),
        "{:?}",
        cart.bound_by
    );
    assert!(cart.total.minor <= 4_000);
}

#[test]
fn unknown_shipping_is_excluded_or_assumed_and_flagged() {
    let criteria = CartCriteria::with_budget(eur(6_000));
    let mut instance = shop();
    instance.sellers[1].shipping = None;
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    assert_eq!(plan.rejections.get(&Rejection::UnknownShipping), Some(&2));
    assert_eq!(plan.per_seller.len(), 1);

    let options = Options {
        unknown_shipping: UnknownShipping::Assume(ShippingPolicy::new(eur(700), eur(200))),
        ..Options::default()
    };
    let plan = optimise(&instance, &criteria, &options).unwrap();
    let b = plan
        .per_seller
        .iter()
        .find(|s| s.seller.as_str() == "b")
        .unwrap();
    let cart = &b.by_total_score[0];
    assert!(cart.shipping_assumed && cart.orders[0].shipping_assumed);
    assert_eq!(cart.orders[0].shipping, eur(700 + 200));
}

#[test]
fn any_pressing_takes_one_release_per_master() {
    let mut instance = shop();
    instance.candidates[0].master = Some(MasterId(7));
    instance.candidates[1].master = Some(MasterId(7));
    let mut criteria = CartCriteria::with_budget(eur(10_000));
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    assert_eq!(
        plan.scenarios
            .last()
            .unwrap()
            .cart
            .as_ref()
            .unwrap()
            .item_count,
        3
    );
    criteria.any_pressing = true;
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    let cart = plan.scenarios.last().unwrap().cart.as_ref().unwrap();
    assert_eq!(cart.item_count, 2);
    assert!(
        cart.lines.iter().any(|l| l.release == ReleaseId(1)),
        "the better pressing stays"
    );
}

#[test]
fn empty_plans_say_why() {
    let criteria = CartCriteria::with_budget(eur(6_000));
    let none = Instance {
        candidates: vec![],
        ..shop()
    };
    let plan = optimise(&none, &criteria, &Options::default()).unwrap();
    assert_eq!(plan.empty, Some(EmptyReason::NoCandidates));
    assert!(plan.scenarios.iter().all(|s| s.cart.is_none()));

    let strict = CartCriteria {
        min_media_condition: Some(MediaCondition::Mint),
        ..criteria.clone()
    };
    let plan = optimise(&shop(), &strict, &Options::default()).unwrap();
    assert_eq!(plan.empty, Some(EmptyReason::NoEligibleListings));
    assert_eq!(plan.rejections.get(&Rejection::MediaCondition), Some(&4));
    assert_eq!(
        plan.empty.unwrap().to_string(),
        "no listing meets the criteria"
    );

    let many = CartCriteria {
        min_items: 4,
        ..criteria.clone()
    };
    let plan = optimise(&shop(), &many, &Options::default()).unwrap();
    assert_eq!(plan.empty, Some(EmptyReason::TooFewItemsWithinBudget));

    let mut instance = shop();
    for s in &mut instance.sellers {
        s.min_order_total = Some(eur(5_000));
    }
    let plan = optimise(&instance, &criteria, &Options::default()).unwrap();
    assert_eq!(plan.empty, Some(EmptyReason::SellerMinimumsUnmet));
    // A budget already spent does not make a finished search's answer less definite: the
    // small searches end within the allowance they get for finding a first cart.
    let spent = Options {
        time_budget_ms: Some(0),
        ..Options::default()
    };
    let plan = optimise(&instance, &criteria, &spent).unwrap();
    assert!(!plan.timed_out);
    assert_eq!(plan.empty, Some(EmptyReason::SellerMinimumsUnmet));
}

#[test]
fn a_market_answers_several_questions() {
    let instance = shop();
    let criteria = CartCriteria::with_budget(eur(6_000));
    let market = Market::prepare(&instance, &criteria, &Options::default()).unwrap();
    assert_eq!(market.sellers().count(), 2);
    assert_eq!(market.eligible_listings(), 4);
    let two = market.best_multi_seller(Some(2)).unwrap();
    assert_eq!(two.seller_count, 2);
    let weight = market
        .top_k_for_seller(&SellerName::new("a"), Objective::OriginalWeight)
        .unwrap();
    assert_eq!(weight[0].item_count, 2);
    assert!((weight[0].weight - 2.0 * 1.7).abs() < 1e-9);
}

#[test]
fn matches_the_stored_reference_solution() {
    let dir = cratedigger_testkit::shared_dir().join("bench/carts");
    let instance: ReferenceInstance =
        serde_json::from_str(&std::fs::read_to_string(dir.join("instance_seed7.json")).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(dir.join("solution_seed7.json")).unwrap();
    // The stored output starts with the solver's banner.
    let solution: serde_json::Value =
        serde_json::from_str(&text[text.find("{\n").unwrap()..]).unwrap();
    let (instance, criteria, options) = instance.to_problem(10).unwrap();
    let answer = ReferenceAnswer::from(&optimise(&instance, &criteria, &options).unwrap());

    let multi = &solution["multi_seller"];
    let ours = answer.multi_seller.unwrap();
    assert!(
        (ours.objective_sum_score - multi["objective_sum_score"].as_f64().unwrap()).abs() < 1e-9
    );
    assert!((ours.total_cost - multi["total_cost"].as_f64().unwrap()).abs() < 1e-9);
    for (name, expected) in solution["single_seller"]["per_seller"].as_object().unwrap() {
        let mine = &answer.single_seller[name];
        let best = &mine.top[0];
        assert!(
            (best.objective_sum_score - expected["objective_sum_score"].as_f64().unwrap()).abs()
                < 1e-9
        );
        assert!((best.total_cost - expected["total_cost"].as_f64().unwrap()).abs() < 1e-9);
        let weight = expected["original_weight"]["weight_qty2_mean_score"]
            .as_f64()
            .unwrap();
        assert!(
            (mine.original_weight[0].weight - weight).abs() < 1e-9,
            "{name}"
        );
    }
}

/// Many sellers, every record worth the same: sets of sellers tie by the thousand. With a
/// small limit the search stops, keeps the best cart found, and says what it proved; with
/// room enough it proves the same cart best.
#[test]
fn a_search_stopped_at_its_limit_says_what_it_proved() {
    let releases = 12_u64;
    let sellers = 40_u64;
    let mut instance = Instance {
        candidates: (1..=releases).map(|r| candidate(r, 1.0)).collect(),
        listings: Vec::new(),
        sellers: Vec::new(),
    };
    for s in 0..sellers {
        let name = format!("seller{s:02}");
        instance.sellers.push(seller(
            &name,
            300 + (s as i64 * 37) % 400,
            100 + (s as i64 * 13) % 150,
        ));
        for r in 1..=releases {
            if (r * 7 + s * 3) % 5 < 2 {
                let price = 700 + ((r * 131 + s * 71) % 900) as i64;
                instance
                    .listings
                    .push(listing(s * 100 + r, r, &name, price));
            }
        }
    }
    let criteria = CartCriteria::with_budget(eur(9_000));
    let any = |plan: &cratedigger_carts::CartPlan| {
        let scenario = plan
            .scenarios
            .iter()
            .find(|s| s.max_sellers.is_none())
            .unwrap()
            .clone();
        (scenario.cart.unwrap(), scenario.optimality)
    };
    let room = Options {
        seller_sets_limit: 1_000_000,
        ..Options::default()
    };
    let full = optimise(&instance, &criteria, &room).unwrap();
    let (best, proof) = any(&full);
    assert_eq!(proof, Optimality::Proven);

    let options = Options {
        seller_sets_limit: 3,
        ..Options::default()
    };
    let (found, proof) = any(&optimise(&instance, &criteria, &options).unwrap());
    assert!(found.score <= best.score && found.total.minor <= criteria.budget.minor);
    match proof {
        Optimality::Proven => panic!("three sets cannot prove a cart among forty sellers best"),
        Optimality::ScoreProven => assert_eq!(found.score, best.score),
        Optimality::BestFound { score_bound } => assert!(
            score_bound >= best.score - 1e-9,
            "{score_bound} < {}",
            best.score
        ),
    }
}
