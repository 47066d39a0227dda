//! Dequantisation: one function per ggml block layout, mirroring ggml-quants.c bit for bit.

use half::{bf16, f16};

use super::GgmlType;

/// Dequantises `src` (whole blocks of `ty`) into `dst`; `None` if `ty` is not supported.
///
/// The caller guarantees `src.len() / block_bytes == dst.len() / block_elems`; surplus on
/// either side is ignored, never read out of bounds.
pub(super) fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Option<()> {
    match ty {
        GgmlType::F32 => blocks(src, dst, |b: &[u8; 4], [y]: &mut [f32; 1]| *y = f32::from_le_bytes(*b)),
        GgmlType::F16 => blocks(src, dst, |&b: &[u8; 2], [y]: &mut [f32; 1]| *y = f16::from_le_bytes(b).to_f32()),
        GgmlType::BF16 => blocks(src, dst, |&b: &[u8; 2], [y]: &mut [f32; 1]| *y = bf16::from_le_bytes(b).to_f32()),
        GgmlType::Q8_0 => blocks(src, dst, q8_0),
        GgmlType::Q4_0 => blocks(src, dst, q4_0),
        GgmlType::Q4_1 => blocks(src, dst, q4_1),
        GgmlType::Q5_0 => blocks(src, dst, q5_0),
        GgmlType::Q5_1 => blocks(src, dst, q5_1),
        GgmlType::Q4_K => blocks(src, dst, q4_k),
        GgmlType::Q5_K => blocks(src, dst, q5_k),
        GgmlType::Q6_K => blocks(src, dst, q6_k),
        _ => return None,
    }
    Some(())
}

/// Applies `decode` to each `B`-byte block of `src` and `N`-element block of `dst`.
fn blocks<const B: usize, const N: usize>(src: &[u8], dst: &mut [f32], decode: impl Fn(&[u8; B], &mut [f32; N])) {
    let (src, _) = src.as_chunks::<B>();
    let (dst, _) = dst.as_chunks_mut::<N>();
    for (block, out) in src.iter().zip(dst) {
        decode(block, out);
    }
}

fn f16_at(lo: u8, hi: u8) -> f32 {
    f16::from_le_bytes([lo, hi]).to_f32()
}

/// `{ f16 d; i8 qs[32] }`: `y = d * q`.
fn q8_0(&[d0, d1, ref qs @ ..]: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(d0, d1);
    for (y, &q) in y.iter_mut().zip(qs) {
        *y = f32::from(q as i8) * d;
    }
}

/// Splits 16 bytes of nibbles into elements 0..16 (low nibbles) and 16..32 (high nibbles).
fn nibbles(qs: &[u8; 16], y: &mut [f32; 32], f: impl Fn(usize, u8, u8) -> (f32, f32)) {
    let (lo, hi) = y.split_at_mut(16);
    for (j, ((lo, hi), &q)) in lo.iter_mut().zip(hi).zip(qs).enumerate() {
        (*lo, *hi) = f(j, q & 0x0F, q >> 4);
    }
}

/// `{ f16 d; u8 qs[16] }`: `y = (nibble - 8) * d`.
fn q4_0(&[d0, d1, ref qs @ ..]: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(d0, d1);
    let v = |q: u8| f32::from(q as i8 - 8) * d;
    nibbles(qs, y, |_, lo, hi| (v(lo), v(hi)));
}

/// `{ f16 d, m; u8 qs[16] }`: `y = nibble * d + m`.
fn q4_1(&[d0, d1, m0, m1, ref qs @ ..]: &[u8; 20], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(d0, d1), f16_at(m0, m1));
    let v = |q: u8| f32::from(q) * d + m;
    nibbles(qs, y, |_, lo, hi| (v(lo), v(hi)));
}

/// The fifth bits of Q5 element `j` (low half) and `j + 16` (high half), as `0` or `16`.
fn fifth_bits(qh: u32, j: usize) -> (u8, u8) {
    (((qh >> j) << 4 & 0x10) as u8, ((qh >> (j + 12)) & 0x10) as u8)
}

/// `{ f16 d; u32 qh; u8 qs[16] }`: `y = ((nibble | bit4) - 16) * d`.
fn q5_0(&[d0, d1, h0, h1, h2, h3, ref qs @ ..]: &[u8; 22], y: &mut [f32; 32]) {
    let (d, qh) = (f16_at(d0, d1), u32::from_le_bytes([h0, h1, h2, h3]));
    let v = |q: u8| f32::from(q as i8 - 16) * d;
    nibbles(qs, y, |j, lo, hi| {
        let (h_lo, h_hi) = fifth_bits(qh, j);
        (v(lo | h_lo), v(hi | h_hi))
    });
}

/// `{ f16 d, m; u32 qh; u8 qs[16] }`: `y = (nibble | bit4) * d + m`.
fn q5_1(&[d0, d1, m0, m1, h0, h1, h2, h3, ref qs @ ..]: &[u8; 24], y: &mut [f32; 32]) {
    let (d, m, qh) = (f16_at(d0, d1), f16_at(m0, m1), u32::from_le_bytes([h0, h1, h2, h3]));
    let v = |q: u8| f32::from(q) * d + m;
    nibbles(qs, y, |j, lo, hi| {
        let (h_lo, h_hi) = fifth_bits(qh, j);
        (v(lo | h_lo), v(hi | h_hi))
    });
}

/// ggml's `get_scale_min_k4`: 6-bit scale and min of sub-block `j` (0..8) from 12 packed bytes.
fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 { (q[j] & 63, q[j + 4] & 63) } else { ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)) }
}

/// Scale and min of each of the 8 sub-blocks of 32 of a Q4_K/Q5_K super-block.
fn k4_scales(d: f32, dmin: f32, scales: &[u8; 12]) -> [(f32, f32); 8] {
    std::array::from_fn(|j| {
        let (sc, m) = scale_min_k4(j, scales);
        (d * f32::from(sc), dmin * f32::from(m))
    })
}

/// `{ f16 d, dmin; u8 scales[12]; u8 qs[128] }`, 256 elements in 4 groups of 64: low nibbles of
/// 32 bytes give sub-block 2g, high nibbles sub-block 2g+1; `y = d*sc * q - dmin*m`.
fn q4_k(&[d0, d1, m0, m1, ref rest @ ..]: &[u8; 144], y: &mut [f32; 256]) {
    let Some((scales, qs)) = rest.split_first_chunk::<12>() else {
        return;
    };
    let sub = k4_scales(f16_at(d0, d1), f16_at(m0, m1), scales);
    let groups = y.as_chunks_mut::<64>().0.iter_mut().zip(qs.as_chunks::<32>().0);
    for ((y, qs), &[(d1, m1), (d2, m2)]) in groups.zip(sub.as_chunks::<2>().0) {
        let (lo, hi) = y.split_at_mut(32);
        for ((lo, hi), &q) in lo.iter_mut().zip(hi).zip(qs) {
            *lo = d1 * f32::from(q & 0xF) - m1;
            *hi = d2 * f32::from(q >> 4) - m2;
        }
    }
}

/// `{ f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }`: like Q4_K plus a fifth bit per
/// element, bit 2g (low nibbles) / 2g+1 (high nibbles) of `qh[l]` for group g.
fn q5_k(&[d0, d1, m0, m1, ref rest @ ..]: &[u8; 176], y: &mut [f32; 256]) {
    let Some((scales, rest)) = rest.split_first_chunk::<12>() else {
        return;
    };
    let Some((qh, qs)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let sub = k4_scales(f16_at(d0, d1), f16_at(m0, m1), scales);
    let groups = y.as_chunks_mut::<64>().0.iter_mut().zip(qs.as_chunks::<32>().0);
    for (g, ((y, qs), &[(d1, m1), (d2, m2)])) in groups.zip(sub.as_chunks::<2>().0).enumerate() {
        let (lo, hi) = y.split_at_mut(32);
        for (((lo, hi), &q), &h) in lo.iter_mut().zip(hi).zip(qs).zip(qh) {
            let h_lo = (h >> (2 * g) & 1) << 4;
            let h_hi = (h >> (2 * g + 1) & 1) << 4;
            *lo = d1 * f32::from((q & 0xF) | h_lo) - m1;
            *hi = d2 * f32::from((q >> 4) | h_hi) - m2;
        }
    }
}

/// `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`, 256 elements in 2 halves of 128. In a
/// half, element `l + 32k` (l < 32, k < 4) takes its low 4 bits from `ql[l + 32(k&1)]` (low
/// nibble for k < 2, else high), its top 2 bits from bits 2k..2k+2 of `qh[l]`, and scale
/// `scales[l/16 + 2k]`; `y = d * scale * (q - 32)`.
fn q6_k(block: &[u8; 210], y: &mut [f32; 256]) {
    let Some((ql, rest)) = block.split_first_chunk::<128>() else {
        return;
    };
    let Some((qh, rest)) = rest.split_first_chunk::<64>() else {
        return;
    };
    let &[ref scales @ .., d0, d1] = rest else {
        return;
    };
    let d = f16_at(d0, d1);
    let halves = y.as_chunks_mut::<128>().0.iter_mut();
    let halves = halves.zip(ql.as_chunks::<64>().0).zip(qh.as_chunks::<32>().0).zip(scales.as_chunks::<8>().0);
    for (((y, ql), qh), sc) in halves {
        let sc: [f32; 8] = sc.map(|s| d * f32::from(s as i8));
        for l in 0..32 {
            let h = qh[l];
            let q = [
                (ql[l] & 0xF) | ((h & 3) << 4),
                (ql[l + 32] & 0xF) | (((h >> 2) & 3) << 4),
                (ql[l] >> 4) | (((h >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((h >> 6) & 3) << 4),
            ];
            for (k, q) in q.into_iter().enumerate() {
                y[l + 32 * k] = sc[l / 16 + 2 * k] * f32::from(q as i8 - 32);
            }
        }
    }
}
