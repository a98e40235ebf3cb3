//! Small files that would cost a careless server a lot: shared by the upload tests and
//! `benches/hostile_load.rs`.

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

/// A small PNG whose header announces 8192×8192 pixels of 16-bit RGBA (512 MiB decoded).
pub fn png_bomb() -> Vec<u8> {
    let mut ihdr = 8192u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&8192u32.to_be_bytes());
    ihdr.extend_from_slice(&[16, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    // A zlib stream of zero bytes, stored uncompressed, for the first rows: enough to start decoding.
    let row = vec![0u8; 1 + 8192 * 8];
    let mut z = vec![0x78, 0x01];
    for block in row.chunks(65_535) {
        z.push(0);
        z.extend_from_slice(&(block.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        z.extend_from_slice(block);
    }
    out.extend(chunk(b"IDAT", &z));
    out.extend(chunk(b"IEND", b""));
    out
}

/// A 4096×4096 GIF canvas with 300 one-pixel frames (a few KB that decode to 64 MiB a frame).
pub fn gif_bomb() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&4096u16.to_le_bytes());
    out.extend_from_slice(&4096u16.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0]);
    for _ in 0..300 {
        out.extend_from_slice(&[0x21, 0xF9, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]);
        out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0x00]);
    }
    out.push(0x3B);
    out
}
