; A boot sector that is a whole guest: it writes SECTORS sectors of 0xA5 bytes to the second
; hard disk (BIOS drive 0x81) through BIOS extended writes (int 13h, AH=43h), 64 sectors at a
; time, flushes the disk's cache (ATA FLUSH CACHE on the secondary channel, where the disk must
; be the master), then tells QEMU to exit through the isa-debug-exit port. The disk writes go through an
; emulated IDE disk, so a full thin volume makes QEMU pause the guest (werror=stop), and `cont`
; retries the failed write: the guest never notices.
; Build: nasm -f bin -DSECTORS=<n> -o writer.bin writer.asm
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov ax, 0x1000              ; a 32 KiB buffer at 1000:0000, filled with the pattern
    mov es, ax
    xor di, di
    mov cx, 0x8000
    mov al, 0xa5
    rep stosb
next:
    mov si, packet
    mov ah, 0x43
    xor al, al
    mov dl, 0x81
    int 0x13
    jc failed
    add dword [lba], 64
    cmp dword [lba], SECTORS
    jb next
    mov dx, 0x176               ; secondary channel, master
    mov al, 0xa0
    out dx, al
    mov dx, 0x177
    mov al, 0xe7                ; FLUSH CACHE: QEMU writes out the image's metadata too
    out dx, al
busy:
    in al, dx
    test al, 0x80
    jnz busy
    mov al, 0                   ; QEMU exits with status 1: done
    out 0xf4, al
    jmp halt
failed:
    mov al, 1                   ; QEMU exits with status 3: a write failed for good
    out 0xf4, al
halt:
    cli
    hlt
    jmp halt

packet:
    db 0x10, 0                  ; size of this disk address packet
    dw 64                       ; sectors per write
    dw 0x0000, 0x1000           ; buffer offset, segment
lba:
    dd 0, 0                     ; first sector of the write

times 510 - ($ - $$) db 0
dw 0xaa55
