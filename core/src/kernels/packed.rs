//! `y = x · B (+ bias)` with `B` packed once into the layout its micro-kernel reads.
//!
//! `B` (`[k, n]`) is cut into panels of `NR` columns; a panel stores its `k` rows of `NR` values one
//! after another (the last panel padded with zeros), so the kernel streams it with aligned vector
//! loads and never repacks it. The output's panels are independent: threads take whole panels (the
//! columns of `y`), so two cores share even a 16-row product. Within a panel, rows of `x` go
//! `MR` at a time against `KC` rows of the panel (a block that stays in the L2 cache), each row's
//! value broadcast against the panel's `NR` columns into `MR × NR` accumulators held in registers.
//!
//! A lane of a panel (32 bits) holds one f32, or for [`Isa::Avx512Bf16`] two consecutive rows of
//! `B` as bf16 (`VDPBF16PS` multiplies such pairs and accumulates in f32): half the bytes streamed
//! and twice the multiply-adds per instruction. `x` is rounded to bf16 the same way; `y` stays f32.

#[cfg(feature = "native")]
use rayon::prelude::*;

/// The instruction set a packed matrix is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F: 32-column panels, 12 rows at a time (24 accumulators of 16 floats).
    Avx512,
    /// AVX2 with FMA: 16-column panels, 6 rows at a time (12 accumulators of 8 floats).
    Avx2,
    /// AVX-512 BF16: as [`Isa::Avx512`], with `B` and `x` in bf16 pairs (for bf16 weights).
    Avx512Bf16,
}

impl Isa {
    /// The best f32 kernel this CPU runs, or `None` (another architecture, or an x86 without AVX2
    /// and FMA).
    pub fn detect() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Some(Isa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Some(Isa::Avx2);
            }
        }
        None
    }

    /// The bf16 kernel, where this CPU has AVX-512 BF16.
    pub fn detect_bf16() -> Option<Isa> {
        Some(Isa::Avx512Bf16).filter(|isa| isa.supported())
    }

    /// Whether this CPU runs `self` (a test may ask for AVX2 on an AVX-512 machine).
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Isa::Avx512 => std::is_x86_feature_detected!("avx512f"),
                Isa::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
                Isa::Avx512Bf16 => std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bf16"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Columns per panel.
    fn nr(self) -> usize {
        match self {
            Isa::Avx512 | Isa::Avx512Bf16 => 32,
            Isa::Avx2 => 16,
        }
    }

    /// Rows of `B` (columns of `x`) per 32-bit lane.
    fn per_lane(self) -> usize {
        match self {
            Isa::Avx512Bf16 => 2,
            Isa::Avx512 | Isa::Avx2 => 1,
        }
    }

    /// The lane holding `values` (`per_lane` of them; zeros past the matrix's edge).
    fn lane(self, values: impl Fn(usize) -> f32) -> u32 {
        match self {
            Isa::Avx512Bf16 => {
                let bits = |q| half::bf16::from_f32(values(q)).to_bits() as u32;
                bits(0) | (bits(1) << 16)
            }
            Isa::Avx512 | Isa::Avx2 => values(0).to_bits(),
        }
    }

    /// Value `q` of a lane.
    fn unlane(self, lane: u32, q: usize) -> f32 {
        match self {
            Isa::Avx512Bf16 => half::bf16::from_bits((lane >> (16 * q)) as u16).to_f32(),
            Isa::Avx512 | Isa::Avx2 => f32::from_bits(lane),
        }
    }

    /// Rows of `x` per micro-kernel call.
    fn mr(self) -> usize {
        match self {
            Isa::Avx512 | Isa::Avx512Bf16 => 12,
            Isa::Avx2 => 6,
        }
    }
}

/// Lane rows of a panel per pass over a block of `x`, at most: 1024 rows of 32 lanes is 128 KiB,
/// in L2.
const KC: usize = 1024;

/// Multiply-adds a thread takes at least, so that small products are not cut finer than a thread
/// hand-off is worth.
const MIN_TASK_FLOPS: usize = 1 << 20;

/// A `[k, n]` matrix packed for [`PackedMatrix::matmul`].
pub struct PackedMatrix {
    isa: Isa,
    k: usize,
    n: usize,
    /// `panels × steps × NR` lanes, `steps = k / per_lane` rounded up.
    data: Vec<u32>,
}

impl std::fmt::Debug for PackedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedMatrix {{ {:?}, [{}, {}] }}", self.isa, self.k, self.n)
    }
}

impl PackedMatrix {
    /// Packs `B[i, j] = at(i, j)` for `i < k`, `j < n` (`at` reads a row-major matrix or its
    /// transpose without a copy).
    pub fn pack(isa: Isa, k: usize, n: usize, at: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        let (nr, per_lane) = (isa.nr(), isa.per_lane());
        let steps = k.div_ceil(per_lane);
        let mut data = vec![0u32; n.div_ceil(nr) * steps * nr];
        let fill = |(p, panel): (usize, &mut [u32])| {
            let c0 = p * nr;
            let cols = nr.min(n - c0);
            for (step, row) in panel.chunks_exact_mut(nr).enumerate() {
                for (j, lane) in row[..cols].iter_mut().enumerate() {
                    let i0 = step * per_lane;
                    *lane = isa.lane(|q| if i0 + q < k { at(i0 + q, c0 + j) } else { 0.0 });
                }
            }
        };
        #[cfg(feature = "native")]
        data.par_chunks_mut(steps * nr).enumerate().for_each(fill);
        #[cfg(not(feature = "native"))]
        data.chunks_mut(steps * nr).enumerate().for_each(fill);
        Self { isa, k, n, data }
    }

    /// The instruction set the panels are laid out for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Rows of `B` (the inner dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of `B`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `B[i, j]` as packed (rounded to bf16 for [`Isa::Avx512Bf16`]).
    pub fn at(&self, i: usize, j: usize) -> f32 {
        let (nr, per_lane) = (self.isa.nr(), self.isa.per_lane());
        let steps = self.k.div_ceil(per_lane);
        self.isa.unlane(self.data[(j / nr) * steps * nr + (i / per_lane) * nr + j % nr], i % per_lane)
    }

    /// `x · B + bias` for the `m` rows of `x` (`[m, k]`, row-major), as `[m, n]` row-major.
    pub fn matmul(&self, x: &[f32], m: usize, bias: Option<&[f32]>) -> Vec<f32> {
        let (k, n, nr, mr) = (self.k, self.n, self.isa.nr(), self.isa.mr());
        assert_eq!(x.len(), m * k, "x is not [m, k]");
        assert!(bias.is_none_or(|b| b.len() == n), "bias is not [n]");
        let mut y = vec![0.0f32; m * n];
        if m == 0 || n == 0 {
            return y;
        }
        let isa = self.isa;
        let steps = k.div_ceil(isa.per_lane());
        let rows = pack_rows(isa, x, m, k);
        let out = SharedOut(y.as_mut_ptr());
        let panels = n.div_ceil(nr);
        // The depth in equal blocks of at most KC lane rows: a block of `x`'s rows stays in cache
        // while every panel passes over it (the head's input gradient has k = 49152).
        let blocks = steps.div_ceil(KC);
        let kc_max = steps.div_ceil(blocks);
        let min_panels = MIN_TASK_FLOPS.div_ceil((m * kc_max * isa.per_lane() * nr).max(1)).max(1);
        for k0 in (0..steps).step_by(kc_max) {
            let kc = kc_max.min(steps - k0);
            let panel_product = |p: usize| {
                let panel = &self.data[p * steps * nr..(p + 1) * steps * nr];
                let c0 = p * nr;
                let cols = nr.min(n - c0);
                for (block, r0) in (0..m).step_by(mr).enumerate() {
                    let tile = Tile {
                        a: &rows[(block * steps + k0) * mr..(block * steps + k0 + kc) * mr],
                        b: &panel[k0 * nr..(k0 + kc) * nr],
                        kc,
                        rows: mr.min(m - r0),
                        // SAFETY: panels write disjoint columns of `y`; rows `r0..r0 + rows` of
                        // columns `c0..c0 + cols` lie inside it.
                        c: unsafe { out.at(r0 * n + c0) },
                        ldc: n,
                        cols,
                        first: k0 == 0,
                        bias: bias.map(|b| &b[c0..c0 + cols]),
                    };
                    run_tile(isa, &tile);
                }
            };
            #[cfg(feature = "native")]
            (0..panels).into_par_iter().with_min_len(min_panels).for_each(panel_product);
            #[cfg(not(feature = "native"))]
            {
                let _ = min_panels;
                (0..panels).for_each(panel_product);
            }
        }
        y
    }
}

/// `x` (`[m, k]`) in blocks of `MR` rows, each block `k` columns (lane rows) of `MR` lanes (the
/// last block padded with zeros): the micro-kernel's broadcasts then read consecutive lanes.
fn pack_rows(isa: Isa, x: &[f32], m: usize, k: usize) -> Vec<u32> {
    let (mr, per_lane) = (isa.mr(), isa.per_lane());
    let steps = k.div_ceil(per_lane);
    let mut rows = vec![0u32; m.div_ceil(mr) * steps * mr];
    let fill = |(block, dst): (usize, &mut [u32])| {
        for r in 0..mr.min(m - block * mr) {
            let src = &x[(block * mr + r) * k..(block * mr + r + 1) * k];
            for step in 0..steps {
                let i0 = step * per_lane;
                dst[step * mr + r] = isa.lane(|q| src.get(i0 + q).copied().unwrap_or(0.0));
            }
        }
    };
    #[cfg(feature = "native")]
    rows.par_chunks_mut(steps * mr).enumerate().for_each(fill);
    #[cfg(not(feature = "native"))]
    rows.chunks_mut(steps * mr).enumerate().for_each(fill);
    rows
}

/// `y`'s buffer, written by several threads at disjoint columns.
struct SharedOut(*mut f32);
// SAFETY: every task writes its own panels' columns only (see `matmul`).
unsafe impl Sync for SharedOut {}
unsafe impl Send for SharedOut {}

impl SharedOut {
    /// The element at `offset`.
    ///
    /// # Safety
    /// `offset` lies inside the buffer.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// One micro-kernel call: `c[rows, cols] = (first ? bias : c) + a[rows, kc] · b[kc, NR][.., cols]`,
/// `a` packed as [`pack_rows`] does (`kc` columns of `MR` values), `b` as a panel (`kc` rows of
/// `NR` values).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Tile<'a> {
    a: &'a [u32],
    b: &'a [u32],
    kc: usize,
    rows: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    first: bool,
    bias: Option<&'a [f32]>,
}

fn run_tile(isa: Isa, t: &Tile<'_>) {
    assert!(t.rows >= 1 && t.rows <= isa.mr() && t.b.len() == t.kc * isa.nr() && t.a.len() == t.kc * isa.mr());
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the ISA was checked against the CPU when the matrix was packed for it; the
        // asserts above bound every read, `matmul` every write.
        match isa {
            Isa::Avx512 => unsafe { x86::tile_avx512(t) },
            Isa::Avx2 => unsafe { x86::tile_avx2(t) },
            Isa::Avx512Bf16 => unsafe { x86::tile_avx512_bf16(t) },
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, t);
        unreachable!("packed matrices exist only where Isa::detect found a kernel");
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Tile;

    /// Lanes of f32 (`Isa::Avx512`, `Isa::Avx2`) and of bf16 pairs (`Isa::Avx512Bf16`): a row of a
    /// panel as a vector, one lane of `x` broadcast, and the multiply-add into f32 accumulators.
    macro_rules! f32x16 {
        (load $p:expr) => {
            _mm512_loadu_ps($p as *const f32)
        };
        (set1 $v:expr) => {
            _mm512_set1_ps(f32::from_bits($v))
        };
        (madd $acc:expr, $a:expr, $b:expr) => {
            _mm512_fmadd_ps($a, $b, $acc)
        };
    }
    macro_rules! f32x8 {
        (load $p:expr) => {
            _mm256_loadu_ps($p as *const f32)
        };
        (set1 $v:expr) => {
            _mm256_set1_ps(f32::from_bits($v))
        };
        (madd $acc:expr, $a:expr, $b:expr) => {
            _mm256_fmadd_ps($a, $b, $acc)
        };
    }
    macro_rules! bf16x32 {
        (load $p:expr) => {
            std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512($p as *const __m512i))
        };
        (set1 $v:expr) => {
            std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32($v as i32))
        };
        (madd $acc:expr, $a:expr, $b:expr) => {
            _mm512_dpbf16_ps($acc, $a, $b)
        };
    }

    /// The micro-kernel for `$rows` of `$mr` rows: two vector registers of the panel per lane row,
    /// one broadcast of `a` per row, `2 × $rows` accumulators of `$w` floats; then the store,
    /// through a buffer at the last panel's partial columns.
    macro_rules! tile {
        ($t:ident, $rows:literal, $mr:literal, $w:literal, $lanes:ident, $zero:ident, $load:ident, $add:ident, $store:ident) => {{
            let t = $t;
            let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
            let mut acc0 = [$zero(); $rows];
            let mut acc1 = [$zero(); $rows];
            for kk in 0..t.kc {
                let b0 = $lanes!(load b.add(kk * 2 * $w));
                let b1 = $lanes!(load b.add(kk * 2 * $w + $w));
                for r in 0..$rows {
                    let av = $lanes!(set1 *a.add(kk * $mr + r));
                    acc0[r] = $lanes!(madd acc0[r], av, b0);
                    acc1[r] = $lanes!(madd acc1[r], av, b1);
                }
            }
            for r in 0..$rows {
                let c = t.c.add(r * t.ldc);
                if t.cols == 2 * $w {
                    let (base0, base1) = match (t.first, t.bias) {
                        (true, None) => ($zero(), $zero()),
                        (true, Some(bias)) => ($load(bias.as_ptr()), $load(bias.as_ptr().add($w))),
                        (false, _) => ($load(c), $load(c.add($w))),
                    };
                    $store(c, $add(acc0[r], base0));
                    $store(c.add($w), $add(acc1[r], base1));
                } else {
                    let mut buf = [0.0f32; 2 * $w];
                    $store(buf.as_mut_ptr(), acc0[r]);
                    $store(buf.as_mut_ptr().add($w), acc1[r]);
                    for (j, v) in buf[..t.cols].iter().enumerate() {
                        let base = match (t.first, t.bias) {
                            (true, None) => 0.0,
                            (true, Some(bias)) => bias[j],
                            (false, _) => *c.add(j),
                        };
                        *c.add(j) = base + v;
                    }
                }
            }
        }};
    }

    /// Dispatches `t.rows` (1 to 12) to the kernel unrolled for it.
    macro_rules! rows_of_12 {
        ($t:ident, $lanes:ident) => {
            unsafe {
                macro_rules! rows {
                    ($r:literal) => {
                        tile!($t, $r, 12, 16, $lanes, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_add_ps, _mm512_storeu_ps)
                    };
                }
                match $t.rows {
                    12 => rows!(12),
                    11 => rows!(11),
                    10 => rows!(10),
                    9 => rows!(9),
                    8 => rows!(8),
                    7 => rows!(7),
                    6 => rows!(6),
                    5 => rows!(5),
                    4 => rows!(4),
                    3 => rows!(3),
                    2 => rows!(2),
                    _ => rows!(1),
                }
            }
        };
    }

    /// AVX-512: 12 rows × 32 columns of f32.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile_avx512(t: &Tile<'_>) {
        rows_of_12!(t, f32x16)
    }

    /// AVX-512 BF16: 12 rows × 32 columns, two rows of `B` per lane.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn tile_avx512_bf16(t: &Tile<'_>) {
        rows_of_12!(t, bf16x32)
    }

    /// AVX2 + FMA: 6 rows × 16 columns of f32.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile_avx2(t: &Tile<'_>) {
        macro_rules! rows {
            ($r:literal) => {
                tile!(t, $r, 6, 8, f32x8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_add_ps, _mm256_storeu_ps)
            };
        }
        unsafe {
            match t.rows {
                6 => rows!(6),
                5 => rows!(5),
                4 => rows!(4),
                3 => rows!(3),
                2 => rows!(2),
                _ => rows!(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], m: usize, k: usize, n: usize, bias: Option<&[f32]>) -> Vec<f32> {
        let mut y = vec![0.0f32; m * n];
        for r in 0..m {
            for j in 0..n {
                let mut s = bias.map_or(0.0, |b| b[j]) as f64;
                for i in 0..k {
                    s += x[r * k + i] as f64 * w[i * n + j] as f64;
                }
                y[r * n + j] = s as f32;
            }
        }
        y
    }

    const ISAS: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Avx512Bf16];

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0).collect()
    }

    /// Every row count against every remainder of the panels and of the K blocks, with and
    /// without bias, on each kernel this CPU runs, against a float64 product.
    #[test]
    fn packed_products_match_the_naive_product() {
        for isa in ISAS.into_iter().filter(|isa| isa.supported()) {
            for &(m, k, n) in &[(1, 1, 1), (5, 7, 33), (13, 64, 32), (16, 576, 40), (25, 2100, 17), (7, 2049, 96)] {
                let (x, w, b) = (values(m * k, 1), values(k * n, 2), values(n, 3));
                let packed = PackedMatrix::pack(isa, k, n, |i, j| w[i * n + j]);
                // the bf16 kernel multiplies x and B rounded to bf16, exactly, accumulating in f32
                let round = |v: &[f32]| v.iter().map(|&v| if isa == Isa::Avx512Bf16 { half::bf16::from_f32(v).to_f32() } else { v }).collect::<Vec<_>>();
                let (xr, wr) = (round(&x), round(&w));
                for bias in [None, Some(b.as_slice())] {
                    let (got, want) = (packed.matmul(&x, m, bias), naive(&xr, &wr, m, k, n, bias));
                    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                    assert!(err < 1e-4 * (k as f32).sqrt(), "{isa:?} {m}x{k}x{n} bias {}: max error {err}", bias.is_some());
                }
                assert_eq!(packed.at(k - 1, n - 1), wr[(k - 1) * n + n - 1]);
            }
        }
    }

    /// The transpose packs from the same row-major data without a copy.
    #[test]
    fn a_transpose_packs_in_place() {
        for isa in [Isa::Avx512, Isa::Avx2].into_iter().filter(|isa| isa.supported()) {
            let (k, n) = (9, 21);
            let w = values(k * n, 4);
            let t = PackedMatrix::pack(isa, n, k, |i, j| w[j * n + i]);
            assert_eq!((t.k(), t.n()), (n, k));
            for i in 0..n {
                for j in 0..k {
                    assert_eq!(t.at(i, j), w[j * n + i]);
                }
            }
        }
    }
}
