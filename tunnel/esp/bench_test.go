package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/subtle"
	"testing"
)

const benchPayload = 1400

var benchConfigs = []struct {
	name string
	config
}{
	{"AES128-CBC-SHA1", config{AESCBC_HMACSHA1, 16}},
	{"AES256-CBC-SHA1", config{AESCBC_HMACSHA1, 32}},
	{"AES128-CBC-SHA256", config{AESCBC_HMACSHA256, 16}},
	{"AES256-CBC-SHA256", config{AESCBC_HMACSHA256, 32}},
	{"AES128-GCM", config{AESGCM16, 16}},
	{"AES256-GCM", config{AESGCM16, 32}},
	{"3DES-CBC-SHA1", config{TDESCBC_HMACSHA1, 24}},
}

// BenchmarkSealOpen seals a 1400-byte payload and opens it again, in place
// in the same buffer, through a sending and a receiving SA.
func BenchmarkSealOpen(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			tx, rx := pair(b, bc.suite, bc.encKeyLen)
			buf := make([]byte, 2048)
			const off = 128
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				start, stop, err := tx.Seal(buf, off, off+benchPayload, 17)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := rx.Open(buf, start, stop); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBare does the cryptographic work of BenchmarkSealOpen with no
// ESP around it: for CBC, encrypt the padded payload (1408 bytes, the
// least whole number of blocks), HMAC it, then verify the HMAC and decrypt;
// for GCM, Seal and Open the 1400 bytes into preallocated buffers.
func BenchmarkBare(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			k := testKeymat(bc.suite, bc.encKeyLen)
			key := k[:bc.encKeyLen]
			p := bc.suite.params()
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			if p.aead {
				block, _ := aes.NewCipher(key)
				aead, _ := cipher.NewGCM(block)
				nonce := make([]byte, 12)
				aad := make([]byte, 8)
				pt := make([]byte, benchPayload)
				ct := make([]byte, benchPayload+16)
				for b.Loop() {
					aead.Seal(ct[:0], nonce, pt, aad)
					if _, err := aead.Open(pt[:0], nonce, ct, aad); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			var block cipher.Block
			if p.tdes {
				block, _ = des.NewTripleDESCipher(key)
			} else {
				block, _ = aes.NewCipher(key)
			}
			iv := make([]byte, block.BlockSize())
			enc := cipher.NewCBCEncrypter(block, iv).(cbcMode)
			dec := cipher.NewCBCDecrypter(block, iv).(cbcMode)
			mac := hmac.New(p.newHash, k[bc.encKeyLen:])
			n := (benchPayload + 2 + p.align - 1) &^ (p.align - 1)
			data := make([]byte, n+p.icvLen)
			ct, icv := data[:n], data[n:]
			var sum [32]byte
			for b.Loop() {
				enc.SetIV(iv)
				enc.CryptBlocks(ct, ct)
				mac.Reset()
				mac.Write(ct)
				copy(icv, mac.Sum(sum[:0]))

				mac.Reset()
				mac.Write(ct)
				if subtle.ConstantTimeCompare(mac.Sum(sum[:0])[:p.icvLen], icv) != 1 {
					b.Fatal("icv")
				}
				dec.SetIV(iv)
				dec.CryptBlocks(ct, ct)
			}
		})
	}
}

// BenchmarkSealParallel seals from GOMAXPROCS goroutines into one SA.
func BenchmarkSealParallel(b *testing.B) {
	for _, bc := range benchConfigs {
		if bc.name != "AES128-GCM" && bc.name != "AES128-CBC-SHA1" {
			continue
		}
		b.Run(bc.name, func(b *testing.B) {
			tx := mustSA(b, bc.suite, bc.encKeyLen)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 2048)
				const off = 128
				for pb.Next() {
					if _, _, err := tx.Seal(buf, off, off+benchPayload, 17); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
