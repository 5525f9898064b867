//! Customers and money that go wrong in practice, found by polling: a guest without email
//! (the checkout email lives on the order's billing address), names with diacritics,
//! apostrophes and CJK characters, and orders paid in EUR in a USD store, whose canonical
//! amounts must be right to the cent in the store currency and, through the order's
//! currency rate, in the customer's.
mod common;

use anyhow::Result;
use common::*;
use nopbridge_emu_nopcommerce::model::PaymentStatus;
use nopbridge_emu_nopcommerce::{
    AddressInput, EmulatorConfig, EmulatorHandle, NewCustomer, PlaceOrder, PlaceOrderItem,
    StoreSettings,
};
use nopbridge_proto::events::v1 as ev;
use rust_decimal::Decimal;

const CONN: &str = "acme-main";

fn service(base_url: &str) -> String {
    connection(
        CONN,
        "acme",
        1,
        base_url,
        "poll_interval_ms = 100\nrepoll_interval_ms = 300\ninitial_backoff_ms = 20\nmax_backoff_ms = 200",
    )
}

fn address(first: &str, last: &str, email: &str, country: i32, city: &str) -> AddressInput {
    AddressInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: Some(email.into()),
        country_id: Some(country),
        city: Some(city.into()),
        address1: Some("1 Quay Street".into()),
        zip_postal_code: Some("A96 K2X7".into()),
        ..AddressInput::default()
    }
}

fn currency_id(h: &EmulatorHandle, code: &str) -> Option<i32> {
    h.read(|st| st.currency_by_code(code).map(|c| c.id))
}

/// Waits for the order's event showing the store's current statuses and checks it whole.
async fn settled_order(
    collecting: &Collecting,
    env: &Env,
    h: &EmulatorHandle,
    id: i32,
) -> Result<ev::Order> {
    let oid = i64::from(id);
    let want = expect::statuses(h, oid);
    let e = until(&format!("order {id}"), || {
        collecting
            .latest::<ev::Order>(&env.canonical("order"), |o| o.order_id == oid)
            .filter(|o| expect::statuses_of(o) == want)
    })
    .await?;
    expect::order(&e, h);
    Ok(e)
}

async fn customer_event(
    collecting: &Collecting,
    env: &Env,
    h: &EmulatorHandle,
    id: i32,
) -> Result<ev::Customer> {
    let e = until(&format!("customer {id}"), || {
        collecting.latest::<ev::Customer>(&env.canonical("customer"), |c| {
            c.customer_id == i64::from(id)
        })
    })
    .await?;
    expect::customer(&e, h);
    Ok(e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guests_unicode_names_and_a_eur_order_in_a_usd_store() -> Result<()> {
    let env = Env::new().await?;
    let emu = emulator(EmulatorConfig {
        seed: 41,
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let collecting = Collecting::start(
        &env.kafka(),
        vec![
            env.canonical("order"),
            env.canonical("customer"),
            env.canonical("payment_transaction"),
        ],
    )
    .await?;
    let ingest = Ingest::start(env.config(&service(&emu.base_url()))?);
    until("polling started", || {
        (ingest.counter("poll_cycles", ("connection", CONN)) > 0).then_some(())
    })
    .await?;

    let product = h.read(|st| {
        st.products
            .iter()
            .find(|p| {
                !p.deleted && p.is_ship_enabled && st.tax_rate(p.tax_category_id) > Decimal::ZERO
            })
            .map(|p| p.id)
            .expect("the catalogue has one")
    });
    // A guest: no email, no name, the role Guests.
    let guest = h.register_customer(NewCustomer {
        store_id: 1,
        ..NewCustomer::default()
    });
    // Registered customers with names that break naive encodings and quoting.
    let anais = ("Anaïs", "N'Diaye-Øster", "anais.n'diaye@example.test");
    let registered = h.register_customer(NewCustomer {
        store_id: 1,
        email: Some(anais.2.into()),
        first_name: Some(anais.0.into()),
        last_name: Some(anais.1.into()),
        company: Some("L'Atelier de Zoë".into()),
        currency_id: currency_id(&h, "EUR"),
        address: Some(address(anais.0, anais.1, anais.2, 74, "Saint-Étienne")),
    });
    let yamada = ("太郎", "山田", "taro.yamada@example.test");
    let cjk = h.register_customer(NewCustomer {
        store_id: 1,
        email: Some(yamada.2.into()),
        first_name: Some(yamada.0.into()),
        last_name: Some(yamada.1.into()),
        address: Some(address(yamada.0, yamada.1, yamada.2, 1, "東京")),
        ..NewCustomer::default()
    });

    // The guest's order, paid at checkout: the email typed at checkout is on the billing
    // address only.
    let checkout = ("Seán", "Ó Briain", "sean.o'briain@example.test");
    let mut req = PlaceOrder::new(1, guest, vec![PlaceOrderItem::new(product, 3)]);
    req.billing_address = Some(address(
        checkout.0,
        checkout.1,
        checkout.2,
        80,
        "Dún Laoghaire",
    ));
    req.shipping = Some(Decimal::new(499, 2));
    req.payment_status = PaymentStatus::Paid;
    req.capture_transaction_id = Some("ch_guest_1".into());
    let guest_order = h.place_order(&req)?;

    // The EUR order: placed, then paid.
    let mut req = PlaceOrder::new(
        1,
        registered,
        vec![PlaceOrderItem {
            discount_percent: Decimal::TEN,
            discount_id: Some(1),
            ..PlaceOrderItem::new(product, 2)
        }],
    );
    req.currency_code = Some("EUR".into());
    req.shipping = Some(Decimal::new(850, 2));
    req.subtotal_discount = Decimal::new(5, 0);
    req.subtotal_discount_id = Some(2);
    req.payment_fee = Decimal::new(150, 2);
    let eur_order = h.place_order(&req)?;
    h.mark_order_as_paid(eur_order)?;

    // The customers.
    let g = customer_event(&collecting, &env, &h, guest).await?;
    assert!(g.is_guest);
    assert_eq!(
        (g.email.as_str(), g.roles.as_slice()),
        ("", &["Guests".to_string()][..])
    );
    let a = customer_event(&collecting, &env, &h, registered).await?;
    assert_eq!(
        (
            a.first_name.as_str(),
            a.last_name.as_str(),
            a.email.as_str()
        ),
        anais
    );
    assert_eq!(
        (a.company.as_str(), a.currency_code.as_str()),
        ("L'Atelier de Zoë", "EUR")
    );
    let y = customer_event(&collecting, &env, &h, cjk).await?;
    assert_eq!(
        (y.first_name.as_str(), y.last_name.as_str()),
        (yamada.0, yamada.1)
    );
    assert_eq!(
        y.billing_address.as_ref().map(|b| b.city.as_str()),
        Some("東京")
    );

    // The guest's order: USD, the checkout email and names.
    let o = settled_order(&collecting, &env, &h, guest_order).await?;
    assert_eq!(o.customer_id, i64::from(guest));
    assert_eq!(o.customer_email, checkout.2);
    let b = o.billing_address.clone().unwrap_or_default();
    assert_eq!(
        (
            b.first_name.as_str(),
            b.last_name.as_str(),
            b.country_code.as_str()
        ),
        (checkout.0, checkout.1, "GB")
    );
    assert_eq!(o.customer_currency_code, "USD");
    assert_eq!(
        money(&o.order_total_customer_currency),
        money(&o.order_total)
    );

    // The EUR order: every amount in USD as stored, the rate, and the total in EUR.
    let e = settled_order(&collecting, &env, &h, eur_order).await?;
    let stored = h.order(eur_order).expect("the order at the store");
    assert_eq!(e.store_currency, "USD");
    assert_eq!(money(&e.order_total), usd(stored.order_total));
    assert_eq!(dec(&e.currency_rate), Decimal::new(9200, 4));
    assert_eq!(
        money(&e.order_total_customer_currency),
        (
            cents(stored.order_total * Decimal::new(92, 2)),
            "EUR".to_string()
        )
    );
    // Both orders were paid: one capture each, of the USD total.
    for (id, order) in [(guest_order, &o), (eur_order, &e)] {
        let txns =
            until("the capture", || {
                Some(collecting.written::<ev::PaymentTransaction>(
                    &env.canonical("payment_transaction"),
                    |t| t.order_id == i64::from(id),
                ))
                .filter(|t| !t.is_empty())
            })
            .await?;
        expect::payments(
            &txns,
            &h,
            i64::from(id),
            &[(
                ev::PaymentTransactionKind::Capture,
                h.order(id).expect("the order at the store").order_total,
                Decimal::ZERO,
                ev::PaymentStatus::Paid,
            )],
        );
        assert_eq!(money(&txns[0].amount), money(&order.order_total));
    }

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}

/// A store whose database predates 4.30 (currency rates kept to 8 places), which does not
/// round during calculation (amounts kept to 4 places) and whose exchange rates are based
/// on EUR (so the order's rate is EUR/USD = 1 / 1.0870). The customer-currency total is
/// the stored total × the rate, rounded once; rounding the USD total to cents first and
/// converting that is a cent off for this order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unrounded_eur_order_is_right_to_the_cent_in_both_currencies() -> Result<()> {
    let env = Env::new().await?;
    let emu = emulator(EmulatorConfig {
        seed: 42,
        store: StoreSettings {
            round_prices_during_calculation: false,
            currency_rate_decimals: 8,
            primary_exchange_rate_currency: "EUR".into(),
            ..StoreSettings::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let h = emu.handle().clone();
    let collecting = Collecting::start(&env.kafka(), vec![env.canonical("order")]).await?;
    let ingest = Ingest::start(env.config(&service(&emu.base_url()))?);
    until("polling started", || {
        (ingest.counter("poll_cycles", ("connection", CONN)) > 0).then_some(())
    })
    .await?;

    // A zero-rated product, not shipped, priced to the tenth of a cent: the total is 10.0050 USD.
    let product = h.read(|st| {
        st.products
            .iter()
            .find(|p| !p.deleted && st.tax_rate(p.tax_category_id).is_zero())
            .map(|p| p.id)
            .expect("the catalogue has one")
    });
    h.edit_product(product, |p| {
        p.price = Decimal::new(100_050, 4);
        p.is_ship_enabled = false;
    })?;
    let buyer = h.register_customer(NewCustomer {
        store_id: 1,
        email: Some("chloé.l'hermite@example.test".into()),
        first_name: Some("Chloé".into()),
        last_name: Some("L'Hermite".into()),
        currency_id: currency_id(&h, "EUR"),
        address: Some(address(
            "Chloé",
            "L'Hermite",
            "chloé.l'hermite@example.test",
            74,
            "Lyon",
        )),
        ..NewCustomer::default()
    });
    let mut req = PlaceOrder::new(1, buyer, vec![PlaceOrderItem::new(product, 1)]);
    req.currency_code = Some("EUR".into());
    let order = h.place_order(&req)?;
    let stored = h.order(order).expect("the order at the store");
    assert_eq!(stored.order_total, Decimal::new(100_050, 4));
    let rate = stored.currency_rate;
    assert_eq!(rate.scale(), 8, "an 8-place rate: {rate}");
    assert_ne!(
        cents(stored.order_total * rate),
        cents(Decimal::from(cents(stored.order_total)) * rate / Decimal::ONE_HUNDRED),
        "this order is one where rounding twice is a cent off"
    );

    let e = settled_order(&collecting, &env, &h, order).await?;
    assert_eq!(money(&e.order_total), (1_001, "USD".to_string()));
    assert_eq!(dec(&e.currency_rate), rate);
    assert_eq!(
        money(&e.order_total_customer_currency),
        (cents(stored.order_total * rate), "EUR".to_string())
    );

    ingest.stop().await?;
    collecting.stop().await;
    emu.shutdown().await;
    Ok(())
}
