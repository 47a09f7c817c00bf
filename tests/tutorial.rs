//! The tutorial's ShuffleNetV2 (issue 11): recognised from its state_dict names and shapes,
//! folded into the one network, refused with a clear error when its tensors are wrong.
//! Its agreement with PyTorch on every backend is in the conformance suite.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::fixtures;
use shufflenet_web::model::Family;
use shufflenet_web::weights::{self, Format, StateDict};
use shufflenet_web::Error;

fn g2_state_dict() -> StateDict {
    weights::read_state_dict(fixtures::TUTORIAL_G2).unwrap().0
}

fn load_err(sd: &StateDict) -> Error {
    weights::load(&weights::write_safetensors(sd, false, None, None).unwrap()).unwrap_err()
}

suite_test!(
    fn recognises_planes_groups_and_classes() {
        for (groups, file) in [(1, fixtures::TUTORIAL_G1), (2, fixtures::TUTORIAL_G2)] {
            let info = weights::load(file).unwrap().info;
            assert_eq!(info.format, Format::TorchZip);
            assert_eq!(info.arch.family, Family::Tutorial { groups });
            assert_eq!(info.arch.stages_out_channels, [24, 32, 48, 64, 40]);
            assert_eq!(info.arch.num_classes, 5);
            assert_eq!(
                info.arch.describe(),
                format!(
                    "tutorial ShuffleNetV2 (2 units/stage, ReLU6), planes [32, 48, 64], \
                     groups {groups}, 5 classes"
                )
            );
            assert_eq!(info.arch.known_width(), None);
        }
    }
);

suite_test!(
    fn safetensors_of_it_load_the_same() {
        let sd = g2_state_dict();
        let st =
            weights::load(&weights::write_safetensors(&sd, false, None, None).unwrap()).unwrap();
        let mdl = weights::load(fixtures::TUTORIAL_G2).unwrap();
        assert_eq!(st.info.arch, mdl.info.arch);
        assert_eq!(st.info.params, mdl.info.params);
    }
);

suite_test!(
    fn a_missing_tensor_is_named() {
        for name in [
            "stage3.0.shortcut.0.0.bias",
            "conv5.bias",
            "stage4.1.bottleneck.2.1.running_var",
        ] {
            let mut sd = g2_state_dict();
            sd.tensors.remove(name);
            let e = load_err(&sd);
            assert!(matches!(e, Error::Missing(_)), "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
    }
);

suite_test!(
    fn groups_that_do_not_divide_the_channels_are_refused() {
        // stage3's stride-1 3x3 conv holds 24 channels: 5 per group would be 4.8 groups, and
        // 8 per group is 3 groups, which do not divide stage2's halves of 16.
        for (per_group, says) in [(5, "does not divide"), (8, "groups = 3 does not divide")] {
            let mut sd = g2_state_dict();
            sd.insert(
                "stage3.1.bottleneck.1.0.weight",
                vec![24, per_group, 3, 3],
                vec![0.1; 24 * per_group * 9],
            );
            let e = load_err(&sd);
            assert!(matches!(e, Error::Layout(_)), "{per_group} per group: {e}");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
);

suite_test!(
    fn a_wrong_shape_and_an_extra_unit_are_refused() {
        let mut sd = g2_state_dict();
        sd.insert("stage2.0.shortcut.1.0.weight", vec![24, 24], vec![0.0; 576]);
        assert!(matches!(load_err(&sd), Error::Shape { .. }));
        let mut sd = g2_state_dict();
        sd.insert("stage2.2.bottleneck.0.0.weight", vec![1], vec![0.0]);
        assert!(matches!(load_err(&sd), Error::Unexpected(_)));
    }
);

/// The fast CPU on the tutorial's x2.0 planes (dense 3x3s of up to 488 channels, and the
/// grouped ones with 2 groups): three threads give one thread's results bit for bit, and
/// both match the reference. Native only: the wasm builds have one thread.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn x2_0_on_threads_matches_one_thread_bit_for_bit() {
    use shufflenet_web::backend::{Backend, Frame};
    use shufflenet_web::cpu::{reference, FastCpu};
    use shufflenet_web::model::Arch;
    let x = common::input(2, 67, 61, 3);
    for groups in [1, 2] {
        let arch = Arch::tutorial([244, 488, 976], groups, 2048, 5).unwrap();
        let net = weights::random_network(&arch, 5);
        let mut one = FastCpu::new(&net);
        let mut many = FastCpu::with_threads(&net, 3);
        let want = pollster::block_on(one.run(Frame::Tensor(&x))).unwrap();
        let got = pollster::block_on(many.run(Frame::Tensor(&x))).unwrap();
        assert!(
            got.logits == want.logits && got.features == want.features,
            "groups {groups}: 3 threads differ from one"
        );
        let truth = reference::run(&net, &x).unwrap();
        common::assert_close(
            &format!("groups {groups} against the reference"),
            &want.logits,
            &truth.logits,
            1e-4,
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::Path;
    use std::process::Command;

    /// `info` on a `.mdl` names the architecture; `convert` makes safetensors of it that
    /// `info` reads the same.
    #[test]
    fn info_names_it_and_convert_keeps_it() {
        let bin = env!("CARGO_BIN_EXE_shufflenet");
        let mdl = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tutorial_g2.mdl");
        let info = |path: &Path| {
            let out = Command::new(bin).arg("info").arg(path).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let from_mdl = info(&mdl);
        assert!(
            from_mdl.contains(
                "architecture: tutorial ShuffleNetV2 (2 units/stage, ReLU6), planes [32, 48, 64], \
                 groups 2, 5 classes"
            ),
            "{from_mdl}"
        );
        let out = std::env::temp_dir().join(format!("tutorial-{}.safetensors", std::process::id()));
        let status = Command::new(bin)
            .arg("convert")
            .arg(&mdl)
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let from_st = info(&out);
        std::fs::remove_file(&out).unwrap();
        let arch = |s: &str| s.lines().next().unwrap().to_string();
        assert_eq!(arch(&from_st), arch(&from_mdl));
    }

    /// `random --tutorial` writes the tutorial's factory at a width, with its groups.
    #[test]
    fn random_writes_the_tutorial_factories() {
        let bin = env!("CARGO_BIN_EXE_shufflenet");
        let out = std::env::temp_dir().join(format!("tutorial-random-{}.st", std::process::id()));
        let random = |more: &[&str]| {
            Command::new(bin)
                .args([
                    "random",
                    out.to_str().unwrap(),
                    "--width",
                    "0.5",
                    "--tutorial",
                ])
                .args(more)
                .output()
                .unwrap()
        };
        assert!(random(&["--groups", "2", "--classes", "5", "--seed", "3"])
            .status
            .success());
        let info = Command::new(bin).arg("info").arg(&out).output().unwrap();
        std::fs::remove_file(&out).unwrap();
        let info = String::from_utf8(info.stdout).unwrap();
        assert!(
            info.starts_with(
                "architecture: tutorial ShuffleNetV2 (2 units/stage, ReLU6), planes [48, 96, 192], \
                 groups 2, 5 classes"
            ),
            "{info}"
        );
        // Groups that do not divide the channels are refused (24 / 5).
        let refused = random(&["--groups", "5"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("does not divide"));
        assert!(!out.exists());
    }
}
