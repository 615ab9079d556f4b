//! Driving small hand-written designs: counter, 16-bit adder, wide and odd-width ports.

mod common;

use common::sim_for;
use rand::{Rng, SeedableRng};
use sim::{Direction, SimError, Storage};

#[test]
fn counter_counts_rising_edges() {
    require_verilator!();
    let mut sim = sim_for("counter", "counter.v", "counter_counts");
    let (rst, en, count) = (
        sim.port("rst").unwrap(),
        sim.port("en").unwrap(),
        sim.port("count").unwrap(),
    );
    assert_eq!(count.width(), 7);

    sim.set(rst, 1);
    sim.step(2);
    assert_eq!(sim.get(count), 0, "reset{}", sim.trace_hint());
    sim.set(rst, 0);
    sim.set(en, 1);
    sim.step(10);
    assert_eq!(
        sim.get(count),
        10,
        "after 10 enabled edges{}",
        sim.trace_hint()
    );
    assert_eq!(sim.cycles(), 12);

    // Disabled: holds.
    sim.set(en, 0);
    sim.step(5);
    assert_eq!(sim.get(count), 10);

    // 7 bits wrap at 128.
    sim.set(en, 1);
    sim.step(200);
    assert_eq!(sim.get(count), (10 + 200) % 128, "{}", sim.trace_hint());
    assert_eq!(sim.cycles(), 217);
    assert_eq!(sim.time(), 2 * 217, "two time units per cycle");
}

#[test]
fn instances_are_independent_and_movable_across_threads() {
    require_verilator!();
    let lib = sim::build(&common::options("counter", "counter.v")).unwrap();
    let mut a = lib.instantiate().unwrap();
    let mut b = lib.instantiate().unwrap();
    let (rst, en, count) = (
        lib.port("rst").unwrap(),
        lib.port("en").unwrap(),
        lib.port("count").unwrap(),
    );
    for s in [&mut a, &mut b] {
        s.set(rst, 1);
        s.step(1);
        s.set(rst, 0);
        s.set(en, 1);
    }
    a.step(3);
    b.step(7);
    // Each model runs on its own thread, then comes back.
    let ha = std::thread::spawn(move || {
        a.step(1);
        a
    });
    let hb = std::thread::spawn(move || {
        b.step(2);
        b
    });
    let (a, b) = (ha.join().unwrap(), hb.join().unwrap());
    assert_eq!(a.get(count), 4);
    assert_eq!(b.get(count), 9);
}

#[test]
fn adder16_matches_rust() {
    require_verilator!();
    let mut sim = sim_for("adder16", "adder16.v", "adder16");
    let [a, b, cin, sum, cout] = ["a", "b", "cin", "sum", "cout"].map(|n| sim.port(n).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x05ee_dadd);
    let mut cases: Vec<(u64, u64, u64)> = vec![
        (0, 0, 0),
        (0xffff, 1, 0),
        (0xffff, 0xffff, 1),
        (0x8000, 0x8000, 0),
    ];
    cases.extend((0..5000).map(|_| {
        (
            rng.random_range(0..=0xffff),
            rng.random_range(0..=0xffff),
            rng.random_range(0..=1),
        )
    }));
    for (x, y, c) in cases {
        sim.set(a, x);
        sim.set(b, y);
        sim.set(cin, c);
        sim.eval();
        let expect = x + y + c;
        assert_eq!(
            (sim.get(sum), sim.get(cout)),
            (expect & 0xffff, expect >> 16),
            "{x:#x} + {y:#x} + {c}{}",
            sim.trace_hint()
        );
    }
    // A combinational design has no clock: step reports it instead of doing nothing.
    assert!(matches!(sim.try_step(1), Err(SimError::NoClock { .. })));
}

#[test]
fn wide_ports_round_trip() {
    require_verilator!();
    let mut sim = sim_for("wide", "wide.v", "wide");
    let info = |name: &str| sim.ports().iter().find(|p| p.name == name).unwrap().clone();
    assert_eq!(info("a").storage, Storage::Wide(4));
    assert_eq!(info("b_inv").storage, Storage::Wide(7));
    assert_eq!(info("in33").storage, Storage::U64);
    assert_eq!(info("parity").width, 1);
    assert_eq!(info("b_reg").direction, Direction::Output);

    let [a, b, bit1, in33, a_plus1, b_inv, b_reg, out33, parity] = [
        "a", "b", "bit1", "in33", "a_plus1", "b_inv", "b_reg", "out33", "parity",
    ]
    .map(|n| sim.port(n).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(100_200);
    let mask100 = (1u128 << 100) - 1;
    let mut specials = vec![0u128, mask100, 1u128 << 99, (1u128 << 64) - 1, 1u128 << 64];
    specials.extend((0..200).map(|_| rng.random::<u128>() & mask100));
    for (i, av) in specials.into_iter().enumerate() {
        // 200-bit random value as 7 words with the top 8 bits of word 6 clear.
        let mut bv: Vec<u32> = (0..7).map(|_| rng.random()).collect();
        bv[6] &= 0xff;
        let v33 = rng.random::<u64>() & ((1 << 33) - 1);
        let b1 = (i % 2) as u64;

        sim.set_wide(a, &sim::u128_to_words(av, 100));
        sim.set_wide(b, &bv);
        sim.set(in33, v33);
        sim.set(bit1, b1);
        sim.step(1);

        let got = sim::words_to_u128(&sim.get_wide(a_plus1));
        assert_eq!(got, (av + 1) & mask100, "a = {av:#x}{}", sim.trace_hint());
        let inv: Vec<u32> = sim.get_wide(b_inv);
        let expect_inv: Vec<u32> = bv
            .iter()
            .enumerate()
            .map(|(k, w)| if k == 6 { !w & 0xff } else { !w })
            .collect();
        assert_eq!(inv, expect_inv);
        assert_eq!(sim.get_wide(b_reg), bv, "registered copy after one edge");
        assert_eq!(sim.get_wide(b), bv, "inputs read back");
        let flip = if b1 == 1 { (1 << 33) - 1 } else { 0 };
        assert_eq!(sim.get(out33), v33 ^ flip);
        assert_eq!(
            sim.get_wide(out33),
            vec![(v33 ^ flip) as u32, ((v33 ^ flip) >> 32) as u32]
        );
        assert_eq!(sim.get(parity), u64::from(v33.count_ones() % 2));
    }
    // set_wide on a narrow port goes through the same checks.
    sim.set_wide(in33, &[5, 1]);
    assert_eq!(sim.get(in33), (1 << 32) | 5);
}

#[test]
fn port_misuse_is_reported() {
    require_verilator!();
    let lib = sim::build(&common::options("wide", "wide.v")).unwrap();
    let mut sim = lib.instantiate().unwrap();
    let err = sim.port("nope").unwrap_err().to_string();
    assert!(
        err.contains("no port `nope`") && err.contains("input a [100]"),
        "{err}"
    );

    let in33 = sim.port("in33").unwrap();
    let a = sim.port("a").unwrap();
    let out = sim.port("out33").unwrap();
    let panics =
        |f: &mut dyn FnMut()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    assert!(panics(&mut || sim.set(in33, 1 << 33)), "too wide a value");
    assert!(panics(&mut || sim.set(out, 1)), "writing an output");
    assert!(panics(&mut || sim.set(a, 1)), "set on a wide port");
    assert!(panics(&mut || sim.set_wide(a, &[0; 3])), "wrong word count");
    assert!(
        panics(&mut || sim.set_wide(a, &[0, 0, 0, 0x10])),
        "bit 100 set"
    );
    let counter = sim::build(&common::options("counter", "counter.v")).unwrap();
    let foreign = counter.port("count").unwrap();
    assert!(panics(&mut || {
        sim.get(foreign);
    }));
    // Signed helpers.
    sim.set_signed(in33, -2);
    assert_eq!(sim.get(in33), (1 << 33) - 2);
    assert_eq!(sim.get_signed(in33), -2);
    assert!(
        panics(&mut || sim.set_signed(in33, 1 << 32)),
        "out of signed range"
    );
}

#[test]
fn sim_is_send_and_lib_is_shareable() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<sim::Sim>();
    send_sync::<sim::VerilatedLib>();
}
