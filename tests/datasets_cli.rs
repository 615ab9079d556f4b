//! End-to-end tests of `--dataset synthetic` and `--dataset imagefolder` in
//! `tandem eval`, `tandem sim network` and `tandem report`: the paper's
//! 224x224 AlexNet runs without ImageNet on disk, synthetic images are named
//! as such and never scored, and image folders are read as torchvision does.

use std::path::Path;
use std::time::Instant;

mod common;
use common::{have_verilator, last_json, preset, stderr, stdout, tandem};

/// `tandem model random` with these arguments after `--out dir`, which must succeed.
fn random_model(dir: &Path, args: &[&str]) {
    let mut all = vec![
        "model",
        "random",
        "--seed",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let made = tandem(&all);
    assert!(made.status.success(), "{}", stderr(&made));
}

/// A 1/4-width RGB alexnet-cifar model (3x32x32 input, 10 classes).
fn rgb_cifar_model(dir: &Path) {
    random_model(
        dir,
        &[
            "--topology",
            "alexnet-cifar",
            "--width",
            "0.25",
            "--in-channels",
            "3",
        ],
    );
}

/// Exit code and stderr of a run that must fail.
fn failure(args: &[&str]) -> (Option<i32>, String) {
    let run = tandem(args);
    assert!(
        !run.status.success(),
        "{args:?} succeeded: {}",
        stdout(&run)
    );
    (run.status.code(), stderr(&run))
}

#[test]
fn eval_on_synthetic_images_reports_throughput_and_no_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    rgb_cifar_model(&model);
    let model = model.to_str().unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", model, "--dataset", "synthetic", "--json"];
        args.extend_from_slice(extra);
        let run = tandem(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        run
    };
    let run = eval(&["--images", "6"]);
    let text = stdout(&run);
    assert!(
        text.contains(
            "6 synthetic images (seed 1) of 3x32x32; accuracy is not defined for synthetic images"
        ),
        "{text}"
    );
    // No accuracy or correct count anywhere but as nulls in the JSON line.
    let (lines, _json) = text.trim_end().rsplit_once('\n').unwrap();
    assert!(!lines.contains("correct") && !lines.contains('%'), "{text}");
    assert!(text.contains("images/s"), "{text}");
    let value = last_json(&run);
    assert!(value["accuracy"].is_null(), "{value}");
    assert!(value["correct"].is_null(), "{value}");
    assert_eq!(value["dataset"], "synthetic");
    assert_eq!(value["synthetic_seed"], 1);
    assert_eq!(value["images"], 6);
    assert!(value["images_per_s"].as_f64().unwrap() > 0.0);

    let seeded = last_json(&eval(&["--images", "2", "--synthetic-seed", "9"]));
    assert_eq!(seeded["synthetic_seed"], 9);
    assert!(seeded["accuracy"].is_null());
}

#[test]
fn synthetic_and_imagefolder_arguments_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    rgb_cifar_model(&model);
    let model = model.to_str().unwrap();
    let data = dir.path().to_str().unwrap();
    for (args, expected) in [
        (
            vec!["eval", "--model", model, "--dataset", "synthetic"],
            "--dataset synthetic makes as many images as --images asks for; pass --images N",
        ),
        (
            vec![
                "eval",
                "--model",
                model,
                "--dataset",
                "synthetic",
                "--images",
                "2",
                "--data-dir",
                data,
            ],
            "--dataset synthetic makes its images and reads no files; leave out --data-dir",
        ),
        (
            vec![
                "eval",
                "--model",
                model,
                "--synthetic-seed",
                "3",
                "--images",
                "2",
            ],
            "--synthetic-seed only applies to --dataset synthetic",
        ),
        (
            vec!["eval", "--model", model, "--dataset", "imagefolder"],
            "--dataset imagefolder needs --data-dir DIR",
        ),
        (
            vec![
                "sim",
                "network",
                "--hw",
                "x.yaml",
                "--model",
                model,
                "--dataset",
                "imagefolder",
            ],
            "--dataset imagefolder needs --data-dir DIR",
        ),
        (
            vec![
                "report",
                "--hw",
                "x.yaml",
                "--model",
                model,
                "--out",
                data,
                "--dataset",
                "nope",
            ],
            "valid names are: fashion-mnist, mnist, cifar10, synthetic, imagefolder",
        ),
    ] {
        let (code, err) = failure(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(code, Some(2), "{args:?}: usage errors exit 2: {err}");
    }
}

#[test]
fn the_paper_network_points_at_synthetic_images_or_an_image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("imagenet");
    random_model(
        &model,
        &[
            "--topology",
            "alexnet-imagenet",
            "--width",
            "0.125",
            "--in-channels",
            "3",
        ],
    );
    let (code, err) = failure(&["eval", "--model", model.to_str().unwrap(), "--images", "1"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "the model takes 3x224x224 images but fashion-mnist (the default) images are 1x32x32"
        ),
        "{err}"
    );
    assert!(err.contains("pass --dataset synthetic"), "{err}");
    assert!(
        err.contains("--dataset imagefolder --data-dir DIR"),
        "{err}"
    );
    // And synthetic images of its shape run.
    let run = tandem(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "synthetic",
        "--images",
        "2",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(last_json(&run)["accuracy"].is_null());
}

/// `tandem sim network` on the seed paper's network: a random 1/4-width
/// alexnet-imagenet (224x224x3, 58.6 M MACs) on the 16x16 W8A8 array, one
/// synthetic image through the RTL, bit-exact. About 12 s on 2 cores, 10 of
/// them building the array with Verilator (cached after the first time).
#[test]
fn sim_network_runs_the_paper_network_on_synthetic_images() {
    if !have_verilator() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("imagenet");
    random_model(
        &model,
        &[
            "--topology",
            "alexnet-imagenet",
            "--width",
            "0.25",
            "--in-channels",
            "3",
            "--wbits",
            "8",
            "--abits",
            "8",
        ],
    );
    let started = Instant::now();
    let run = tandem(&[
        "sim",
        "network",
        "--hw",
        &preset("hw-16x16-w8a8.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "synthetic",
        "--images",
        "1",
        "--json",
    ]);
    let seconds = started.elapsed().as_secs_f64();
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let text = stdout(&run);
    assert!(
        text.contains("1 synthetic images (seed 1) in groups of 1"),
        "{text}"
    );
    assert!(
        text.contains("mismatches against golden: 0; RTL predictions")
            && text.contains("accuracy is not defined for synthetic images"),
        "{text}"
    );
    let value = last_json(&run);
    assert_eq!(value["mismatches"], 0, "{value}");
    assert_eq!(value["images"], 1);
    assert_eq!(value["dataset"], "synthetic");
    assert_eq!(value["synthetic_seed"], 1);
    assert!(
        value["accuracy"].is_null() && value["correct"].is_null(),
        "{value}"
    );
    assert_eq!(value["total_cycles"], value["total_model_cycles"]);
    let conv1 = &value["layers"][0];
    assert_eq!(conv1["gemm"]["m"], 55 * 55, "{conv1}");
    eprintln!(
        "alexnet-imagenet x0.25 on hw-16x16-w8a8: {} cycles per image, {seconds:.1} s for the whole command",
        value["cycles_per_image"]
    );
}

#[test]
fn report_on_synthetic_images_names_them_and_scores_nothing() {
    if !have_verilator() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    // The small grey model and 8x8 W4A4 array the report tests use.
    random_model(
        &model,
        &[
            "--topology",
            "alexnet-cifar",
            "--width",
            "0.125",
            "--in-channels",
            "1",
            "--wbits",
            "4",
            "--abits",
            "4",
            "--first-last-wbits",
            "8",
        ],
    );
    let out = dir.path().join("report");
    let run = tandem(&[
        "report",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "synthetic",
        "--synthetic-seed",
        "5",
        "--images",
        "1",
        "--no-synth",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let text = stdout(&run);
    assert!(
        text.contains(
            "note: simulated on synthetic images (seed 5, 1x32x32; labels meaningless, no accuracy)"
        ),
        "{text}"
    );
    let value = last_json(&run);
    assert_eq!(value["dataset"], "synthetic");
    assert_eq!(value["synthetic_seed"], 5);
    assert_eq!(value["mismatches"], 0);
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        markdown.contains("synthetic images (seed 5, 1x32x32; labels meaningless, no accuracy)"),
        "{markdown}"
    );
    assert!(!markdown.contains("predictions correct"), "{markdown}");
}

/// A minimal RGB PNG encoder (stored deflate blocks), so this test needs no
/// image crate of its own.
fn write_png(path: &Path, width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, png).unwrap();
}

#[test]
fn eval_on_an_image_folder_scores_its_class_folders() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    rgb_cifar_model(&model);
    let model = model.to_str().unwrap();
    let data = dir.path().join("folder");
    for (class, seed) in [("n0_apple", 1u32), ("n1_pear", 2)] {
        for image in 0..2u32 {
            write_png(
                &data.join(class).join(format!("{image}.png")),
                48 + image * 5,
                40,
                |x, y| {
                    [
                        ((x * 5 + y * seed) % 256) as u8,
                        ((x * y + seed * 60) % 256) as u8,
                        ((y * 9 + image * 30) % 256) as u8,
                    ]
                },
            );
        }
    }
    let data_dir = data.to_str().unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--model",
            model,
            "--dataset",
            "imagefolder",
            "--data-dir",
            data_dir,
            "--json",
        ];
        args.extend_from_slice(extra);
        tandem(&args)
    };
    let run = eval(&[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = stdout(&run);
    assert!(
        text.contains(&format!(
            "correct on image folder {data_dir} (2 classes), accuracy"
        )),
        "{text}"
    );
    let value = last_json(&run);
    assert_eq!(value["dataset"], "imagefolder");
    assert_eq!(value["images"], 4);
    assert_eq!(value["classes"], 2);
    let accuracy = value["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "{value}");
    // The same folder, the same result; a limit keeps the first images.
    let again = last_json(&eval(&[]));
    assert_eq!(again["correct"], value["correct"]);
    let limited = eval(&["--images", "9"]);
    assert_eq!(last_json(&limited)["images"], 4);
    assert!(
        stderr(&limited).contains(
            "note: --images 9 asks for more than the 4 images of the image folder; using all 4"
        ),
        "{}",
        stderr(&limited)
    );

    // An empty class folder is named, with the fix.
    std::fs::create_dir_all(data.join("n2_empty")).unwrap();
    let run = eval(&[]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains("n2_empty"), "{err}");
    assert!(err.contains("holds no JPEG or PNG file"), "{err}");
}
