//! ImageNet-style image folders: classes, order, shapes, determinism and
//! the errors, on tiny folders of PNG and JPEG files written here.

use std::fs;
use std::path::Path;

use datasets::imagefolder::{self, Listing};
use datasets::transform::eval_transform;
use datasets::{DatasetError, Source};
use image::{ImageFormat, Rgb, RgbImage};

/// A busy RGB test image (so resizing and decoding matter).
fn test_image(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            ((x * 7 + y * 3 + seed * 40) % 256) as u8,
            ((x * x + y + seed * 11) % 256) as u8,
            ((x * y / 3 + seed * 90) % 256) as u8,
        ])
    })
}

fn save(image: &RgbImage, path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let format = match path.extension().unwrap().to_str().unwrap() {
        "png" | "PNG" => ImageFormat::Png,
        _ => ImageFormat::Jpeg,
    };
    image.save_with_format(path, format).unwrap();
}

/// `b_dog/` (4 images, 3 nested), `a_cat/` (2 images), a stray text file
/// in the root and in a class: 6 images, 2 classes.
fn tiny_folder(root: &Path) {
    save(&test_image(50, 40, 1), &root.join("a_cat/2.png"));
    save(&test_image(40, 60, 2), &root.join("a_cat/1.JPG"));
    save(&test_image(64, 64, 3), &root.join("b_dog/z.jpeg"));
    save(&test_image(33, 47, 4), &root.join("b_dog/sub/a.png"));
    save(&test_image(30, 30, 5), &root.join("b_dog/sub x/b.png"));
    save(&test_image(31, 35, 6), &root.join("b_dog/sub/y/c.png"));
    fs::write(root.join("README.txt"), "not a class").unwrap();
    fs::write(root.join("b_dog/notes.txt"), "skipped").unwrap();
}

#[test]
fn image_folder_classes_files_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    tiny_folder(dir.path());
    let listing = imagefolder::list(dir.path()).unwrap();
    assert_eq!(listing.classes, ["a_cat", "b_dog"]);
    let names: Vec<String> = listing
        .files
        .iter()
        .map(|(path, class)| {
            let relative = path.strip_prefix(dir.path()).unwrap();
            format!("{class}:{}", relative.display())
        })
        .collect();
    // Classes in order; in each, directories in the order of their whole
    // path as a string (torchvision's sorted os.walk: "sub" < "sub x" <
    // "sub/y", as ' ' < '/'), the files of each sorted.
    assert_eq!(
        names,
        [
            "0:a_cat/1.JPG",
            "0:a_cat/2.png",
            "1:b_dog/z.jpeg",
            "1:b_dog/sub/a.png",
            "1:b_dog/sub x/b.png",
            "1:b_dog/sub/y/c.png"
        ]
    );

    for shape in [[3, 224, 224], [3, 32, 32], [1, 32, 32]] {
        let data = imagefolder::load(dir.path(), shape, None).unwrap();
        assert_eq!(data.kind, Source::ImageFolder);
        assert_eq!(data.shape(), shape);
        assert_eq!(data.len(), 6);
        assert_eq!(data.labels, [0, 0, 1, 1, 1, 1]);
        assert_eq!(data.u8_labels(), Some(&[0u8, 0, 1, 1, 1, 1][..]));
        assert_eq!(data.label(3), Some(1));
        assert_eq!(data.class_names, ["a_cat", "b_dog"]);
        assert_eq!(data.images.len(), 6 * shape.iter().product::<usize>());
        // Deterministic: the same folder gives the same bytes.
        assert_eq!(imagefolder::load(dir.path(), shape, None).unwrap(), data);
    }

    // A limit keeps the first images in reading order.
    let two = imagefolder::load(dir.path(), [3, 32, 32], Some(2)).unwrap();
    let all = imagefolder::load(dir.path(), [3, 32, 32], None).unwrap();
    assert_eq!(two.labels, [0, 0]);
    assert_eq!(two.images[..], all.images[..two.images.len()]);
    let more = imagefolder::load(dir.path(), [3, 32, 32], Some(100)).unwrap();
    assert_eq!(more, all);
}

#[test]
fn png_images_are_the_transform_of_their_pixels() {
    // PNG is lossless: the loaded image is exactly the evaluation transform
    // of the pixels written (RGB), and of their Pillow luma (greyscale).
    let dir = tempfile::tempdir().unwrap();
    let image = test_image(70, 45, 5);
    save(&image, &dir.path().join("only/x.png"));
    let data = imagefolder::load(dir.path(), [3, 32, 32], None).unwrap();
    assert_eq!(
        data.images,
        eval_transform(image.as_raw(), 3, 45, 70, 32, 32)
    );

    let luma: Vec<u8> = image
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0.map(u32::from);
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
        })
        .collect();
    let grey = imagefolder::load(dir.path(), [1, 32, 32], None).unwrap();
    assert_eq!(grey.images, eval_transform(&luma, 1, 45, 70, 32, 32));

    // A greyscale PNG gives three equal channels.
    let grey_png = image::GrayImage::from_fn(40, 40, |x, y| image::Luma([(x * 6 + y) as u8]));
    fs::remove_file(dir.path().join("only/x.png")).unwrap();
    grey_png.save(dir.path().join("only/g.png")).unwrap();
    let data = imagefolder::load(dir.path(), [3, 32, 32], None).unwrap();
    let plane = 32 * 32;
    assert_eq!(data.images[..plane], data.images[plane..2 * plane]);
    assert_eq!(data.images[..plane], data.images[2 * plane..]);
}

#[test]
fn more_than_256_classes_keep_their_labels_wide() {
    let dir = tempfile::tempdir().unwrap();
    let pixel = test_image(2, 2, 0);
    for class in 0..300 {
        save(&pixel, &dir.path().join(format!("c{class:04}/i.png")));
    }
    let data = imagefolder::load(dir.path(), [3, 4, 4], None).unwrap();
    assert_eq!(data.classes(), 300);
    assert_eq!(data.u8_labels(), None);
    assert_eq!(data.label(299), Some(299));
    assert_eq!(
        data.wide_labels.as_deref().unwrap()[257..260],
        [257, 258, 259]
    );
}

fn listing_error(dir: &Path) -> DatasetError {
    imagefolder::list(dir).unwrap_err()
}

#[test]
fn image_folder_errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    // No such folder.
    let missing = root.join("missing");
    let error = listing_error(&missing);
    assert!(
        matches!(error, DatasetError::FolderMissing { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(&missing.display().to_string()));

    // Files but no class folders.
    fs::write(root.join("loose.png"), b"x").unwrap();
    let error = listing_error(root);
    assert!(
        matches!(error, DatasetError::NoClassFolders { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("no class subfolders"), "{message}");
    assert!(message.contains("DIR/<class>/<image>.jpg"), "{message}");
    fs::remove_file(root.join("loose.png")).unwrap();

    // An empty class folder, whatever the limit.
    save(&test_image(8, 8, 0), &root.join("full/a.png"));
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("empty/readme.txt"), "no images").unwrap();
    let error = imagefolder::load(root, [3, 8, 8], Some(1)).unwrap_err();
    assert!(matches!(error, DatasetError::EmptyClass { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&root.join("empty").display().to_string()),
        "{message}"
    );
    assert!(message.contains("holds no JPEG or PNG file"), "{message}");
    fs::remove_dir_all(root.join("empty")).unwrap();

    // An undecodable image: named, with the fix.
    fs::write(root.join("full/b.jpg"), b"not a jpeg at all").unwrap();
    let error = imagefolder::load(root, [3, 8, 8], None).unwrap_err();
    assert!(matches!(error, DatasetError::Undecodable { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&root.join("full/b.jpg").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("replace it with a valid JPEG or PNG"),
        "{message}"
    );
    // ... but only when it is among the images read.
    assert_eq!(
        imagefolder::load(root, [3, 8, 8], Some(1)).unwrap().len(),
        1
    );
    // A truncated PNG is undecodable too.
    let png = fs::read(root.join("full/a.png")).unwrap();
    fs::write(root.join("full/b.jpg"), &png[..png.len() / 2]).unwrap();
    assert!(matches!(
        imagefolder::load(root, [3, 8, 8], None).unwrap_err(),
        DatasetError::Undecodable { .. }
    ));
    fs::remove_file(root.join("full/b.jpg")).unwrap();

    // A format torchvision reads and tandem does not.
    fs::write(root.join("full/c.bmp"), b"BM").unwrap();
    let error = listing_error(root);
    assert!(
        matches!(error, DatasetError::UnsupportedFormat { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("c.bmp"), "{error}");
    assert!(
        error.to_string().contains("convert it to PNG or JPEG"),
        "{error}"
    );
    fs::remove_file(root.join("full/c.bmp")).unwrap();

    // Shapes the reader cannot give.
    for (shape, expected) in [([2, 8, 8], "2-channel"), ([3, 0, 8], "at least 1")] {
        let error = imagefolder::load(root, shape, None).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    let listing: Listing = imagefolder::list(root).unwrap();
    assert_eq!(listing.len(), 1);
}
